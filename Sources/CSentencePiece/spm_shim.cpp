#include "spm_shim.h"
#include <sentencepiece_processor.h>
extern "C" int spm_shim_version(void) { return 1; }
