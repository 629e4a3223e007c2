/*
 * Driver that produced talib_period1.json from the real TA-Lib (0.6, the C
 * sources bundled in the npm package talib 2.0.5). Not part of the build.
 *
 *   npm pack talib@2.0.5 && tar xzf talib-2.0.5.tgz
 *   for f in package/src/lib/src/ta_func/*.c package/src/lib/src/ta_common/*.c; do
 *     gcc -O2 -c -Ipackage/src/lib/include -Ipackage/src/lib/src/ta_common "$f"; done
 *   ar rcs libta.a *.o
 *   gcc -O2 -Ipackage/src/lib/include talib_period1.c libta.a -lm -o gen && ./gen > talib_period1.json
 *
 * series.h holds the five columns of talibdata_test.go as refOpen..refVolume
 * and the synthetic series (the "inputs" of the JSON file) as
 * synOpen..synVolume with SYN_N = 120.
 */
#include <stdio.h>
#include "ta_libc.h"
#include "series.h"
static double out1[400], out2[400], out3[400];
static void emit(const char *name, int first, int beg, int nb, const double *v, int comma){
  printf("%s    \"%s\": {\"begin\": %d, \"values\": [", first?"":",\n", name, beg);
  for(int i=0;i<nb;i++) printf("%s%.17g", i?", ":"", v[i]);
  printf("]}");
}
static void series(const char *label, int n, const double *o,const double *h,const double *l,const double *c,const double *v, int withInputs){
  int beg, nb, first=1; TA_RetCode rc;
  printf("  \"%s\": {\n", label);
  if(withInputs){
    printf("    \"inputs\": {");
    const double *cols[5]={o,h,l,c,v}; const char *names[5]={"open","high","low","close","volume"};
    for(int k=0;k<5;k++){ printf("%s\"%s\": [", k?", ":"", names[k]); for(int i=0;i<n;i++) printf("%s%.17g", i?", ":"", cols[k][i]); printf("]"); }
    printf("},\n"); }
  printf("    \"outputs\": {\n");
#define ONE(NAME, CALL) rc = CALL; if(rc) { fprintf(stderr,"%s rc %d\n", NAME, rc); return; } emit(NAME, first, beg, nb, out1, 0); first=0;
  ONE("ATR(period=1)", TA_ATR(0,n-1,h,l,c,1,&beg,&nb,out1))
  ONE("NATR(period=1)", TA_NATR(0,n-1,h,l,c,1,&beg,&nb,out1))
  ONE("PLUS_DI(period=1)", TA_PLUS_DI(0,n-1,h,l,c,1,&beg,&nb,out1))
  ONE("MINUS_DI(period=1)", TA_MINUS_DI(0,n-1,h,l,c,1,&beg,&nb,out1))
  ONE("ROC(period=1)", TA_ROC(0,n-1,c,1,&beg,&nb,out1))
  ONE("MOM(period=1)", TA_MOM(0,n-1,c,1,&beg,&nb,out1))
  ONE("ATR(period=14)", TA_ATR(0,n-1,h,l,c,14,&beg,&nb,out1))
  ONE("NATR(period=14)", TA_NATR(0,n-1,h,l,c,14,&beg,&nb,out1))
  rc = TA_STOCH(0,n-1,h,l,c,1,1,TA_MAType_SMA,1,TA_MAType_SMA,&beg,&nb,out1,out2); if(rc){fprintf(stderr,"stoch %d\n",rc);return;}
  emit("STOCH(fastk_period=1,slowd_period=1,slowk_period=1).k", first, beg, nb, out1, 0); emit("STOCH(fastk_period=1,slowd_period=1,slowk_period=1).d", 0, beg, nb, out2, 0);
  rc = TA_STOCH(0,n-1,h,l,c,14,1,TA_MAType_SMA,1,TA_MAType_SMA,&beg,&nb,out1,out2); if(rc){fprintf(stderr,"stoch %d\n",rc);return;}
  emit("STOCH(fastk_period=14,slowd_period=1,slowk_period=1).k", 0, beg, nb, out1, 0); emit("STOCH(fastk_period=14,slowd_period=1,slowk_period=1).d", 0, beg, nb, out2, 0);
  rc = TA_STOCH(0,n-1,h,l,c,5,3,TA_MAType_SMA,1,TA_MAType_SMA,&beg,&nb,out1,out2); if(rc){fprintf(stderr,"stoch %d\n",rc);return;}
  emit("STOCH(fastk_period=5,slowd_period=1,slowk_period=3).k", 0, beg, nb, out1, 0); emit("STOCH(fastk_period=5,slowd_period=1,slowk_period=3).d", 0, beg, nb, out2, 0);
  rc = TA_STOCHRSI(0,n-1,c,14,14,1,TA_MAType_SMA,&beg,&nb,out1,out2); if(rc){fprintf(stderr,"stochrsi %d\n",rc);return;}
  emit("STOCHRSI(fastk_period=14,period=14,slowd_period=1,slowk_period=1).k", 0, beg, nb, out1, 0); emit("STOCHRSI(fastk_period=14,period=14,slowd_period=1,slowk_period=1).d", 0, beg, nb, out2, 0);
  rc = TA_STOCHRSI(0,n-1,c,14,1,1,TA_MAType_SMA,&beg,&nb,out1,out2); if(rc){fprintf(stderr,"stochrsi %d\n",rc);return;}
  emit("STOCHRSI(fastk_period=1,period=14,slowd_period=1,slowk_period=1).k", 0, beg, nb, out1, 0); emit("STOCHRSI(fastk_period=1,period=14,slowd_period=1,slowk_period=1).d", 0, beg, nb, out2, 0);
  printf("\n    }\n  }");
}
int main(void){
  TA_Initialize();
  printf("{\n");
  printf("  \"note\": \"Produced by TA-Lib 0.6 C sources (bundled in the npm package talib 2.0.5, src/lib/src/ta_func and ta_common) compiled with gcc -O2 into a static library outside the repository; a 40-line C driver called TA_ATR, TA_NATR, TA_PLUS_DI, TA_MINUS_DI, TA_ROC, TA_MOM, TA_STOCH and TA_STOCHRSI on the two series and printed every output with %%.17g. begin is TA-Lib's outBegIdx (the bar of the first value). Series ta_regtest is TA-Lib's 252-bar regression series (talibdata_test.go); series synthetic (inputs below) has a 10-bar flat, zero-range, zero-volume stretch (bars 30-39), zero-volume bars and an 8 %% price gap at bar 60. MACD with signal 1 is left out: TA-Lib accepts it but its TA_EMA_Lookback(1) is -1, so TA_MACD reports a first bar one too early and returns uninitialised values.\",\n");
  series("ta_regtest", 252, refOpen, refHigh, refLow, refClose, refVolume, 0);
  printf(",\n");
  series("synthetic", SYN_N, synOpen, synHigh, synLow, synClose, synVolume, 1);
  printf("\n}\n");
  TA_Shutdown();
  return 0;
}
