// C shim over SentencePiece. Keeps every C++ type on this side of the boundary.
#include "spm_shim.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

void setError(char *err, size_t errLen, const std::string &message) {
    if (err == nullptr || errLen == 0) return;
    size_t n = message.size() < errLen - 1 ? message.size() : errLen - 1;
    std::memcpy(err, message.data(), n);
    err[n] = '\0';
}

std::unordered_map<std::string, std::string> makeArgs(const char *modelPrefix, const spm_train_options *o) {
    std::unordered_map<std::string, std::string> a;
    a["model_prefix"] = modelPrefix;
    a["vocab_size"] = std::to_string(o->vocab_size);
    a["model_type"] = o->model_type == SPM_MODEL_BPE ? "bpe" : "unigram";
    if (o->user_defined_symbols != nullptr && o->user_defined_symbols[0] != '\0')
        a["user_defined_symbols"] = o->user_defined_symbols;
    a["pad_id"] = std::to_string(o->pad_id);
    a["unk_id"] = std::to_string(o->unk_id);
    a["bos_id"] = std::to_string(o->bos_id);
    a["eos_id"] = std::to_string(o->eos_id);
    a["character_coverage"] = std::to_string(o->character_coverage);
    if (o->input_sentence_size > 0) {
        a["input_sentence_size"] = std::to_string(o->input_sentence_size);
        a["shuffle_input_sentence"] = "true";
    }
    a["num_threads"] = std::to_string(o->num_threads > 0 ? o->num_threads : 1);
    if (o->max_sentence_length > 0) a["max_sentence_length"] = std::to_string(o->max_sentence_length);
    a["hard_vocab_limit"] = o->hard_vocab_limit ? "true" : "false";
    a["minloglevel"] = "1";  // keep the trainer quiet except for warnings
    return a;
}

/// Feeds in-memory sentences to the trainer.
class ArrayIterator : public sentencepiece::SentenceIterator {
public:
    ArrayIterator(const char *const *s, const size_t *l, size_t n) : s_(s), l_(l), n_(n) { load(); }
    bool done() const override { return i_ >= n_; }
    void Next() override { ++i_; load(); }
    const std::string &value() const override { return value_; }
    sentencepiece::util::Status status() const override { return sentencepiece::util::Status(); }
private:
    void load() { if (i_ < n_) value_.assign(s_[i_], l_[i_]); }
    const char *const *s_; const size_t *l_; size_t n_; size_t i_ = 0; std::string value_;
};

}  // namespace

struct spm_model { sentencepiece::SentencePieceProcessor processor; };

extern "C" int spm_shim_version(void) { return 2; }

extern "C" int spm_train_from_file(const char *inputPath, const char *modelPrefix,
                                   const spm_train_options *options, char *err, size_t errLen) {
    try {
        sentencepiece::SetRandomGeneratorSeed(options->seed);
        auto args = makeArgs(modelPrefix, options);
        args["input"] = inputPath;
        auto status = sentencepiece::SentencePieceTrainer::Train(args);
        if (!status.ok()) { setError(err, errLen, status.ToString()); return -1; }
        return 0;
    } catch (const std::exception &e) {
        setError(err, errLen, e.what()); return -1;
    }
}

extern "C" int spm_train_from_sentences(const char *const *sentences, const size_t *lengths, size_t count,
                                        const char *modelPrefix, const spm_train_options *options,
                                        char *err, size_t errLen) {
    try {
        sentencepiece::SetRandomGeneratorSeed(options->seed);
        auto args = makeArgs(modelPrefix, options);
        ArrayIterator it(sentences, lengths, count);
        auto status = sentencepiece::SentencePieceTrainer::Train(args, &it);
        if (!status.ok()) { setError(err, errLen, status.ToString()); return -1; }
        return 0;
    } catch (const std::exception &e) {
        setError(err, errLen, e.what()); return -1;
    }
}

extern "C" spm_model *spm_load(const char *path, char *err, size_t errLen) {
    auto *model = new spm_model();
    auto status = model->processor.Load(path);
    if (!status.ok()) { setError(err, errLen, status.ToString()); delete model; return nullptr; }
    return model;
}

extern "C" void spm_free(spm_model *model) { delete model; }

extern "C" int32_t spm_vocab_size(const spm_model *m) { return m->processor.GetPieceSize(); }

extern "C" int32_t spm_piece_to_id(const spm_model *m, const char *piece) { return m->processor.PieceToId(piece); }

extern "C" size_t spm_id_to_piece(const spm_model *m, int32_t id, char *buf, size_t bufLen) {
    if (id < 0 || id >= m->processor.GetPieceSize()) return 0;
    const std::string &p = m->processor.IdToPiece(id);
    if (buf != nullptr) std::memcpy(buf, p.data(), p.size() < bufLen ? p.size() : bufLen);
    return p.size();
}

extern "C" int32_t spm_special_id(const spm_model *m, int32_t which) {
    switch (which) {
    case 0: return m->processor.pad_id();
    case 1: return m->processor.unk_id();
    case 2: return m->processor.bos_id();
    case 3: return m->processor.eos_id();
    default: return -1;
    }
}

extern "C" int32_t spm_piece_kind(const spm_model *m, int32_t id) {
    const auto &p = m->processor;
    if (id < 0 || id >= p.GetPieceSize()) return -1;
    if (p.IsUnknown(id)) return SPM_PIECE_UNKNOWN;
    if (p.IsControl(id)) return SPM_PIECE_CONTROL;
    if (p.IsUnused(id)) return SPM_PIECE_UNUSED;
    if (p.IsByte(id)) return SPM_PIECE_BYTE;
    return SPM_PIECE_NORMAL;
}

extern "C" int64_t spm_encode(const spm_model *m, const char *text, size_t len, int32_t *out, size_t cap) {
    std::vector<int> ids;
    auto status = m->processor.Encode(absl::string_view(text, len), &ids);
    if (!status.ok()) return -1;
    size_t n = ids.size() < cap ? ids.size() : cap;
    for (size_t i = 0; i < n; ++i) out[i] = ids[i];
    return static_cast<int64_t>(ids.size());
}

extern "C" int64_t spm_decode(const spm_model *m, const int32_t *ids, size_t count, char *buf, size_t cap) {
    std::vector<int> v(ids, ids + count);
    std::string text;
    auto status = m->processor.Decode(v, &text);
    if (!status.ok()) return -1;
    if (buf != nullptr) std::memcpy(buf, text.data(), text.size() < cap ? text.size() : cap);
    return static_cast<int64_t>(text.size());
}
