#ifndef SPM_SHIM_H
#define SPM_SHIM_H
/*
 * Plain C interface over Debian's libsentencepiece / libsentencepiece_train (see spm_shim.cpp).
 * Swift wraps this in `SparseMixersData.Tokenizer`; no other file should call it directly.
 * All functions that can fail write a NUL-terminated message into `err` (capacity `err_len`)
 * and return a negative value or NULL.
 */
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

int spm_shim_version(void);

/** SentencePiece model types this shim supports. */
enum { SPM_MODEL_UNIGRAM = 0, SPM_MODEL_BPE = 1 };

/** Piece kinds, as returned by `spm_piece_kind`. User-defined symbols report as NORMAL
    (this libsentencepiece has no public IsUserDefined); callers know them by name. */
enum { SPM_PIECE_NORMAL = 0, SPM_PIECE_UNKNOWN = 1, SPM_PIECE_CONTROL = 2,
       SPM_PIECE_UNUSED = 4, SPM_PIECE_BYTE = 5 };

/** Trainer options (a subset of SentencePiece's TrainerSpec). Ids of -1 disable that piece. */
typedef struct spm_train_options {
    int32_t vocab_size;
    int32_t model_type;                 /* SPM_MODEL_UNIGRAM or SPM_MODEL_BPE */
    const char *user_defined_symbols;   /* comma-separated, e.g. "[CLS],[SEP],[MASK]"; may be NULL */
    int32_t pad_id, unk_id, bos_id, eos_id;
    double character_coverage;          /* e.g. 0.9995 */
    int64_t input_sentence_size;        /* sentences sampled by the trainer; 0 = all */
    uint32_t seed;                      /* SentencePiece's global random seed */
    int32_t num_threads;
    int32_t max_sentence_length;        /* bytes; longer sentences are skipped by the trainer */
    int32_t hard_vocab_limit;           /* 0 lets a small corpus yield fewer pieces */
} spm_train_options;

/** Trains from a text file with one sentence per line; writes `<model_prefix>.model` / `.vocab`. */
int spm_train_from_file(const char *input_path, const char *model_prefix,
                        const spm_train_options *options, char *err, size_t err_len);

/** Trains from `count` in-memory sentences (UTF-8 bytes with explicit lengths). */
int spm_train_from_sentences(const char *const *sentences, const size_t *lengths, size_t count,
                             const char *model_prefix, const spm_train_options *options,
                             char *err, size_t err_len);

typedef struct spm_model spm_model;

/** Loads a `.model` file. Returns NULL on failure. */
spm_model *spm_load(const char *path, char *err, size_t err_len);
void spm_free(spm_model *model);

int32_t spm_vocab_size(const spm_model *model);
/** Id of `piece`, or the unknown id when the piece is absent. */
int32_t spm_piece_to_id(const spm_model *model, const char *piece);
/** Copies the piece text (not NUL-terminated) into `buf`; returns its full length. */
size_t spm_id_to_piece(const spm_model *model, int32_t id, char *buf, size_t buf_len);
/** which: 0 pad, 1 unk, 2 bos, 3 eos. Returns -1 when the model has no such piece. */
int32_t spm_special_id(const spm_model *model, int32_t which);
int32_t spm_piece_kind(const spm_model *model, int32_t id);

/**
 * Encodes `len` bytes of UTF-8 into ids. Writes at most `cap` ids into `out` and returns the full
 * count (call again with a larger buffer when it exceeds `cap`), or -1 on error. Thread-safe.
 */
int64_t spm_encode(const spm_model *model, const char *text, size_t len, int32_t *out, size_t cap);

/** Decodes ids to UTF-8; writes at most `cap` bytes and returns the full length, or -1. */
int64_t spm_decode(const spm_model *model, const int32_t *ids, size_t count, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
