// Builds Jazzer.js's native addon against Debian's stock libFuzzer (libclang-rt-14-dev) instead of
// the patched libFuzzer that Jazzer.js's own build downloads. The prebuilt addon in the npm package
// needs glibc 2.38 and GCC 13's libstdc++; Debian 12 has neither, and nothing but the npm registry
// and Debian's packages may be fetched. What the patched libFuzzer adds, and how it is supplied here:
//
//  - `*_with_pc` comparison hooks: forwarded to the stock hooks. The stock hooks use their caller's
//    address as the comparison site, so every JavaScript comparison shares one site: the table of
//    recent compares (what turns `x === "magic"` into a mutation) still works; value profiling
//    (-use_value_profile, off by default) loses its per-site resolution.
//  - `__jazzer_set_death_callback`: the stock libFuzzer hands its death callback (dump the current
//    input as crash-<sha1>, print the final stats) to `__sanitizer_set_death_callback`, which this
//    file defines and forwards.
//  - A target that reports a finding returns -2 to stop the loop; the stock loop would ignore it.
//    The driver is wrapped (ld --wrap) so that -2 jumps back out of it, and so does libFuzzer's own
//    exit(0) at the end of a run, so that Jazzer.js's JavaScript side reports and exits itself.
//  - `registerModuleCounters` (Jazzer.js 4's per-ES-module coverage counters): registered as one
//    more counter region, as Jazzer.js 4 does.
#include <csetjmp>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "napi.h"

extern "C" {
void __sanitizer_cov_trace_const_cmp8(uint64_t arg1, uint64_t arg2);
void __sanitizer_cov_trace_pc_indir(uintptr_t callee);
void __sanitizer_cov_8bit_counters_init(uint8_t *start, uint8_t *end);
void __sanitizer_cov_pcs_init(const uintptr_t *beg, const uintptr_t *end);
void __jazzer_set_death_callback(void (*callback)());

void __sanitizer_cov_trace_const_cmp8_with_pc(uintptr_t, uint64_t arg1, uint64_t arg2) {
  __sanitizer_cov_trace_const_cmp8(arg1, arg2);
}

void __sanitizer_cov_trace_pc_indir_with_pc(void *, uintptr_t callee) {
  __sanitizer_cov_trace_pc_indir(callee);
}

void __sanitizer_set_death_callback(void (*callback)()) { __jazzer_set_death_callback(callback); }
}

namespace {
using UserCallback = int (*)(const uint8_t *, size_t);
constexpr int RETURN_EXIT = -2;

thread_local std::jmp_buf *gDriverExit = nullptr;
thread_local UserCallback gUserCallback = nullptr;

int StoppableCallback(const uint8_t *data, size_t size) {
  int result = gUserCallback(data, size);
  if (result == RETURN_EXIT && gDriverExit != nullptr) std::longjmp(*gDriverExit, 1);
  return result == -1 ? -1 : 0;
}

struct PCTableEntry {
  uintptr_t pc, flags;
};
}  // namespace

// fuzzer::FuzzerDriver(int *argc, char ***argv, UserCallback), as named by the linker.
extern "C" int _ZN6fuzzer12FuzzerDriverEPiPPPcPFiPKhmE(int *, char ***, UserCallback);
extern "C" int __real__ZN6fuzzer12FuzzerDriverEPiPPPcPFiPKhmE(int *, char ***, UserCallback);
extern "C" int __wrap__ZN6fuzzer12FuzzerDriverEPiPPPcPFiPKhmE(int *argc, char ***argv,
                                                              UserCallback callback) {
  std::jmp_buf here;
  gUserCallback = callback;
  gDriverExit = &here;
  int result = 0;
  if (setjmp(here) == 0) result = __real__ZN6fuzzer12FuzzerDriverEPiPPPcPFiPKhmE(argc, argv, StoppableCallback);
  gDriverExit = nullptr;
  return result;
}

extern "C" [[noreturn]] void __real_exit(int code);
extern "C" [[noreturn]] void __wrap_exit(int code) {
  // libFuzzer ends a finished run with exit(0) from inside the driver: return from it instead.
  if (code == 0 && gDriverExit != nullptr) std::longjmp(*gDriverExit, 1);
  __real_exit(code);
}

void RegisterModuleCounters(const Napi::CallbackInfo &info) {
  if (info.Length() != 1 || !info[0].IsBuffer()) {
    throw Napi::Error::New(info.Env(), "Need one argument: a Buffer of 8-bit counters");
  }
  auto buf = info[0].As<Napi::Buffer<uint8_t>>();
  if (buf.Length() == 0) return;
  // libFuzzer keeps pointers to both tables for the rest of the process: never freed.
  auto *pcs = new PCTableEntry[buf.Length()];
  for (size_t i = 0; i < buf.Length(); ++i) pcs[i] = {i, 0};
  __sanitizer_cov_8bit_counters_init(buf.Data(), buf.Data() + buf.Length());
  __sanitizer_cov_pcs_init(reinterpret_cast<const uintptr_t *>(pcs),
                           reinterpret_cast<const uintptr_t *>(pcs + buf.Length()));
}

void RegisterOriginalCallbackExports(Napi::Env env, Napi::Object exports);
void RegisterCallbackExports(Napi::Env env, Napi::Object exports) {
  RegisterOriginalCallbackExports(env, exports);
  exports["registerModuleCounters"] = Napi::Function::New<RegisterModuleCounters>(env);
}
