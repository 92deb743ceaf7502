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
int main(int argc, char **argv){ (void)argv;
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
  /* Paper size at 8 x 512 (4096 tokens), one thread (the experts run side by side on single-threaded BLAS):
     BERT Base's FFN, and one expert's gemms at capacity factor 1 (Sparse Mixer, 256 rows) and 0.5 (Fast Sparse
     Mixer, 128 rows), d_model 512, expert d_ff 2048. Add "paper" as an argument to run these. */
  if (argc > 1) {
    run("bert768 ffn1 4096 rows",0,0,4096,3072,768);
    run("sm expert fwd1 256 rows",0,0,256,2048,512);
    run("sm expert dW1 K=256",1,0,512,2048,256);
    run("sm expert dX1 256 rows",0,1,256,512,2048);
    run("fsm expert fwd1 128 rows",0,0,128,2048,512);
    run("fsm expert dW1 K=128",1,0,512,2048,128);
    run("fsm expert dX1 128 rows",0,1,128,512,2048);
  }
  return 0;
}
