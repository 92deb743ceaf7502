#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
void run(const char*name,int ta,int tb,int M,int N,int K){
  float*A=malloc(4L*M*K),*B=malloc(4L*K*N),*C=malloc(4L*M*N);
  for(long i=0;i<(long)M*K;i++)A[i]=(i%7)*0.1f; for(long i=0;i<(long)K*N;i++)B[i]=(i%5)*0.1f;
  int lda= ta? M: K, ldb = tb? K: N;
  double best=1e9; int reps=20;
  for(int r=0;r<5;r++){double t0=now(); for(int i=0;i<reps;i++) cblas_sgemm(CblasRowMajor, ta?CblasTrans:CblasNoTrans, tb?CblasTrans:CblasNoTrans, M,N,K,1.0f,A,lda,B,ldb,0.0f,C,N); double t=(now()-t0)/reps; if(t<best)best=t;}
  printf("%-28s M=%5d N=%5d K=%5d  %7.3f ms  %6.1f GFLOP/s\n",name,M,N,K,best*1e3,2.0*M*N*K/best/1e9);
  free(A);free(B);free(C);
}
int main(){
  openblas_set_num_threads(1);
  run("peak 2048",0,0,2048,2048,2048);
  run("ffn1 fwd x.W1",0,0,4096,256,64);
  run("ffn2 fwd h.W2",0,0,4096,64,256);
  run("dX1 = dH.W1^T",0,1,4096,64,256);
  run("dH = dY.W2^T",0,1,4096,256,64);
  run("dW1 = X^T.dH",1,0,64,256,4096);
  run("dW2 = H^T.dY",1,0,256,64,4096);
  run("qkv/dense 64x64",0,0,4096,64,64);
  run("mlm logits 8000",0,1,640,8000,64);
  run("expert fwd 256 rows",0,0,256,256,64);
  run("mix 128x128 per ex",0,0,128,64,128);
  run("bert96 ffn1",0,0,4096,384,96);
  run("bert96 ffn2",0,0,4096,96,384);
  return 0;
}
