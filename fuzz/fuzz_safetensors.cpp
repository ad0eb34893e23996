// Fuzz target: the safetensors reader (load_safetensors) and loading what it returns as a
// model state dict (strict and not) and as an Adam optimizer's state. Invariants: every
// input ends in a result or an xgrad::Error; a file that loads survives a round trip
// through to_safetensors_bytes unchanged.
#include "fuzz_model.hpp"
#include "xgrad/autograd/serialize.hpp"

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_safetensors: invariant broken: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace xgrad;
  const std::string& path = fuzz::write_scratch("safetensors", data, size);
  SafetensorsFile file;
  try {
    file = load_safetensors(path);
  } catch (const Error&) {
    return 0;
  }
  // Touch every element, and check the round trip: what loads must re-serialise and parse
  // back to the same names, dtypes, shapes and bytes.
  std::string bytes;
  try {
    bytes = to_safetensors_bytes(file.tensors, file.metadata);
  } catch (const Error&) {
    bytes.clear();  // e.g. names that the writer refuses; the reader may be laxer
  }
  if (!bytes.empty()) {
    const SafetensorsFile back = from_safetensors_bytes(bytes);
    check(back.metadata == file.metadata, "metadata differs after a round trip");
    check(back.tensors.size() == file.tensors.size(), "tensor count differs after a round trip");
    for (const auto& [name, t] : file.tensors) {
      const auto it = back.tensors.find(name);
      check(it != back.tensors.end(), "a tensor is missing after a round trip");
      check(it->second.dtype() == t.dtype() && it->second.shape() == t.shape(),
            "dtype or shape differs after a round trip");
    }
    // The writer is deterministic: the same dict must give the same bytes (data included).
    check(to_safetensors_bytes(back.tensors, back.metadata) == bytes, "bytes differ after a round trip");
  }
  // Model state (strict, then not) and optimizer state.
  for (const bool strict : {true, false}) {
    try {
      auto model = fuzz::make_model();
      model->load_state_dict(file.tensors, strict);
      model->forward(ones({2, 3}));
    } catch (const Error&) {
    }
  }
  try {
    auto model = fuzz::make_model();
    optim::Adam opt(model->parameters(), optim::AdamOptions(1e-2));
    opt.load_state_dict(file.tensors);
    fuzz::train_step(*model, opt);
  } catch (const Error&) {
  }
  return 0;
}
