public enum SparseMixersHarnessModule {}
