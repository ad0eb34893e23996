// A short training run for valgrind memcheck (issue 19; registered as the CTest test
// valgrind_memcheck_train in tests/CMakeLists.txt, Release builds without sanitizers only).
//
// Small enough to finish in about 20 s under valgrind (a few hundred times slower than
// native here) on one thread, yet it goes through the paths a long training run repeats:
// forward, backward and Adam steps of a Conv2d, an LSTM and an MLP (fused kernels, BLAS, and
// buffers of 64 KiB and more, which go through the buffer cache: the [64, 512] activations
// and fc1's Adam state), then one save and load of the model and optimizer state as
// safetensors files. Valgrind reports invalid reads/writes and definite/indirect leaks; the
// program itself checks that training lowered the loss, that the loaded state equals the
// saved one and that one more step of each gives the same bits. Exits 1 on a failed check.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <tuple>

#include "xgrad/xgrad.hpp"

namespace {

using namespace xgrad;

class Net : public nn::Module {
 public:
  Net() {
    conv = register_module("conv", std::make_shared<nn::Conv2d>(1, 3, std::vector<std::int64_t>{3, 3}));
    lstm = register_module("lstm", std::make_shared<nn::LSTM>(6, 5));
    fc1 = register_module("fc1", std::make_shared<nn::Linear>(3 * 4 * 4 + 5 + 32, 512));
    fc2 = register_module("fc2", std::make_shared<nn::Linear>(512, 2));
  }
  using nn::Module::forward;
  // image [B, 1, 6, 6], sequence [T, B, 6], features [B, 32] -> [B, 2]
  Tensor forward(const Tensor& image, const Tensor& sequence, const Tensor& features) {
    Tensor a = conv->forward(image).relu().flatten(1);
    auto [out, state] = lstm->forward(sequence);
    Tensor h = std::get<0>(state).select(0, 0);  // h_n of the one layer: [B, 5]
    return fc2->forward(fc1->forward(cat({a, h, features}, 1)).tanh());
  }
  std::shared_ptr<nn::Conv2d> conv;
  std::shared_ptr<nn::LSTM> lstm;
  std::shared_ptr<nn::Linear> fc1, fc2;
};

// Exact equality of names, dtypes, shapes and bits.
bool same(const TensorDict& a, const TensorDict& b) { return to_safetensors_bytes(a) == to_safetensors_bytes(b); }

}  // namespace

int main() {
  set_num_threads(1);
  manual_seed(0);
  const Tensor image = randn({64, 1, 6, 6});
  const Tensor sequence = randn({3, 64, 6});
  const Tensor features = randn({64, 32});
  const Tensor target = randn({64, 2});

  Net net;
  optim::Adam opt(net.parameters(), optim::AdamOptions(1e-2));
  double first = 0, last = 0;
  const int steps = 30;
  for (int step = 0; step < steps; ++step) {
    opt.zero_grad();
    Tensor loss = nn::functional::mse_loss(net.forward(image, sequence, features), target);
    loss.backward();
    opt.step();
    (step == 0 ? first : last) = loss.item<double>();
  }
  std::printf("loss %.6f -> %.6f after %d Adam steps\n", first, last, steps);
  if (!(last < first)) {
    std::printf("FAILED: the loss did not decrease\n");
    return 1;
  }

  // One save and load of model and optimizer state, into a fresh model and optimizer.
  const auto dir = std::filesystem::temp_directory_path() / ("xgrad_valgrind_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  net.save((dir / "model.safetensors").string());
  opt.save((dir / "adam.safetensors").string());
  Net loaded;
  optim::Adam loaded_opt(loaded.parameters(), optim::AdamOptions(1e-2));
  loaded.load((dir / "model.safetensors").string());
  loaded_opt.load((dir / "adam.safetensors").string());
  std::filesystem::remove_all(dir);
  if (!same(net.state_dict(), loaded.state_dict()) || !same(opt.state_dict(), loaded_opt.state_dict())) {
    std::printf("FAILED: the loaded state differs from the saved one\n");
    return 1;
  }
  // One more step of each: the same loss bits.
  for (auto* p : {&opt, &loaded_opt}) p->zero_grad();
  Tensor l1 = nn::functional::mse_loss(net.forward(image, sequence, features), target);
  Tensor l2 = nn::functional::mse_loss(loaded.forward(image, sequence, features), target);
  l1.backward();
  l2.backward();
  opt.step();
  loaded_opt.step();
  if (!same(net.state_dict(), loaded.state_dict())) {
    std::printf("FAILED: a step after loading differs from a step of the original\n");
    return 1;
  }
  std::printf("saved and loaded model and Adam state; one more step matches\n");
  return 0;
}
