/* First-touch cost of anonymous memory on this VM (Results/ci/first-look-2026-12-04-quiet.md).
   gcc -O2 -o /tmp/first-touch Results/ci/first-touch.c && /tmp/first-touch 2 1   (GB, 1 = MADV_HUGEPAGE, 2 = no huge pages, 0 = default)
   Three mmap/memset/munmap rounds in one process: the first meets memory the host has not backed yet. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
int main(int c,char**v){size_t n=(size_t)atol(v[1])<<30; int adv=atoi(v[2]);
for(int r=0;r<3;r++){char*p=mmap(0,n,PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_ANONYMOUS,-1,0);
if(adv==1) madvise(p,n,MADV_HUGEPAGE); if(adv==2) madvise(p,n,MADV_NOHUGEPAGE);
double t=now();memset(p,1,n);double t1=now();
printf("adv %d first touch %.2f GB/s\n",adv,n/1e9/(t1-t));munmap(p,n);}}
