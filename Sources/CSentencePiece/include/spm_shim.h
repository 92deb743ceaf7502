#ifndef SPM_SHIM_H
#define SPM_SHIM_H
/* Plain C interface over Debian's libsentencepiece (see spm_shim.cpp). */
#ifdef __cplusplus
extern "C" {
#endif
int spm_shim_version(void);
#ifdef __cplusplus
}
#endif
#endif
