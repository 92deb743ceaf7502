#include <fftw3.h>
/* fftwf_version is an array of unknown size, which Swift cannot import; expose it through a function. */
static inline const char *smx_fftwf_version(void) { return fftwf_version; }
