public enum SparseMixersDataModule {}
