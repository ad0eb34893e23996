// Fuzz target: the IDX reader, plain and gzipped (read_idx detects gzip from the magic
// 1f 8b). The input is the file; its length picks the dtype (int64, float32 or float64) so
// that every conversion is reached without spending input bytes. The size limit is lowered
// to 64 KiB so that a header declaring a large tensor is rejected as the default limit would
// reject a larger one, and each execution stays fast.
#include "fuzz_util.hpp"

#include "xgrad/data/idx.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace xgrad;
  static constexpr Dtype kDtypes[] = {Dtype::int64, Dtype::float32, Dtype::float64};
  const std::string& path = fuzz::write_scratch("idx", data, size);
  try {
    const Tensor t = data::read_idx(path, data::IdxOptions().dtype(kDtypes[size % 3]).max_bytes(1 << 16));
    // The values are bytes 0..255 converted: their sum is within [0, 255 * numel].
    const double s = t.to(Dtype::float64).sum().item<double>();
    if (!(s >= 0 && s <= 255.0 * static_cast<double>(t.numel()))) {
      std::fprintf(stderr, "fuzz_idx: sum %g out of [0, 255 * %lld]\n", s, static_cast<long long>(t.numel()));
      std::abort();
    }
  } catch (const Error&) {
  }
  return 0;
}
