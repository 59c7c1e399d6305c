// The two declarations Jazzer.js's addon takes from libFuzzer's internal FuzzerDefs.h, which
// Debian's libFuzzer package does not install. They match libFuzzer 14's definitions.
#pragma once
#include <cstddef>
#include <cstdint>

namespace fuzzer {
typedef int (*UserCallback)(const uint8_t *Data, size_t Size);
int FuzzerDriver(int *argc, char ***argv, UserCallback Callback);
}  // namespace fuzzer
