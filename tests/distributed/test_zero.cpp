// ZeroRedundancyOptimizer (ZeRO stage 1) on 2 ranks: the same parameters as unsharded DDP with
// the same optimizer, with about half the optimizer state per rank.
#include "distributed_util.hpp"

using namespace xgrad;
namespace dist = xgrad::distributed;
namespace F = xgrad::nn::functional;
using dist::ZeroRedundancyOptimizer;
using xgrad::test::same_bits_on_all_ranks;

using xgrad::test::MpiFixture;
BOOST_TEST_GLOBAL_FIXTURE(MpiFixture);

namespace {

std::shared_ptr<nn::Sequential> mlp() {
  manual_seed(5);
  return std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(8, 32), std::make_shared<nn::Tanh>(),
                                          std::make_shared<nn::Linear>(32, 16), std::make_shared<nn::Tanh>(),
                                          std::make_shared<nn::Linear>(16, 4));
}

ZeroRedundancyOptimizer::OptimizerFactory adam() {
  return [](const std::vector<Tensor>& p) { return std::make_unique<optim::Adam>(p, optim::AdamOptions(0.01)); };
}

std::int64_t state_bytes(const optim::Optimizer& opt) {
  std::int64_t bytes = 0;
  for (const auto& [key, t] : opt.state_dict())
    if (key.rfind("state.", 0) == 0) bytes += t.numel() * static_cast<std::int64_t>(dtype_size(t.dtype()));
  return bytes;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(distributed_zero)

BOOST_AUTO_TEST_CASE(same_parameters_as_unsharded_ddp) {
  auto a = mlp(), b = mlp();
  auto ddp_a = std::make_shared<dist::DistributedDataParallel>(a);
  auto ddp_b = std::make_shared<dist::DistributedDataParallel>(b);
  optim::Adam unsharded(ddp_a->parameters(), optim::AdamOptions(0.01));
  ZeroRedundancyOptimizer sharded(ddp_b->parameters(), adam());
  BOOST_REQUIRE(sharded.local_optimizer() != nullptr);
  BOOST_CHECK_EQUAL(sharded.local_state_bytes(), 0);
  for (int step = 0; step < 5; ++step) {
    manual_seed(200 + static_cast<std::uint64_t>(step) * 2 + static_cast<std::uint64_t>(dist::rank()));
    const Tensor x = randn({4, 8}), y = randn({4, 4});
    unsharded.zero_grad();
    sharded.zero_grad();
    F::mse_loss(ddp_a->forward(x), y).backward();
    F::mse_loss(ddp_b->forward(x), y).backward();
    unsharded.step();
    sharded.step();
  }
  const auto pa = a->parameters(), pb = b->parameters();
  for (std::size_t i = 0; i < pa.size(); ++i) {
    BOOST_CHECK((pa[i].to_vector<float>() == pb[i].to_vector<float>()));
    BOOST_CHECK(same_bits_on_all_ranks(pb[i]));
  }
  // the shards split the state: together they hold what the unsharded optimizer holds
  const std::int64_t mine = sharded.local_state_bytes(), total = state_bytes(unsharded);
  Tensor sum = full({}, static_cast<double>(mine), TensorOptions().dtype(Dtype::int64));
  dist::all_reduce(sum);
  BOOST_CHECK_EQUAL(sum.item<std::int64_t>(), total);
  BOOST_CHECK_LT(mine, total * 3 / 4);
  BOOST_TEST_MESSAGE("rank " << dist::rank() << ": sharded Adam state " << mine << " bytes, unsharded " << total);
}

BOOST_AUTO_TEST_CASE(partition) {
  // sizes 256, 32, 512, 16, 64, 4 (weights and biases of the MLP): largest first, to the
  // least-loaded rank: 512 -> 0, 256 -> 1, 64 -> 1, 32 -> 1, 16 -> 1, 4 -> 1
  auto net = mlp();
  ZeroRedundancyOptimizer z(net->parameters(), adam());
  std::vector<int> owners;
  for (std::size_t i = 0; i < z.parameters().size(); ++i) owners.push_back(z.owner(i));
  BOOST_CHECK((owners == std::vector<int>{1, 1, 0, 1, 1, 1}));
  BOOST_CHECK_EQUAL(z.local_parameters().size(), dist::rank() == 0 ? 1u : 5u);
  XGRAD_CHECK_THROW_MSG(z.owner(6), "ZeroRedundancyOptimizer: parameter index 6 is out of range for 6 parameters");
}

BOOST_AUTO_TEST_CASE(errors) {
  XGRAD_CHECK_THROW_MSG(ZeroRedundancyOptimizer({}, adam()), "ZeroRedundancyOptimizer: got an empty parameter list");
  Tensor w = ones({2}).requires_grad_();
  XGRAD_CHECK_THROW_MSG(ZeroRedundancyOptimizer({w}, nullptr), "ZeroRedundancyOptimizer: got a null optimizer factory");
  XGRAD_CHECK_THROW_MSG(ZeroRedundancyOptimizer({w, w}, adam()),
                        "ZeroRedundancyOptimizer: parameter 1 appears more than once");
  XGRAD_CHECK_THROW_MSG(
      ZeroRedundancyOptimizer({ones({2})}, adam()),
      "ZeroRedundancyOptimizer: parameter 0 (Tensor(shape=[2], dtype=float32)) must be a floating leaf");
  XGRAD_CHECK_THROW_MSG(ZeroRedundancyOptimizer({ones({2 + dist::rank()}).requires_grad_()}, adam()),
                        "ZeroRedundancyOptimizer: the ranks' parameter lists differ");
  // more ranks than parameters: a rank without a shard only takes part in the broadcasts
  Tensor only = full({3}, 1.0 + dist::rank()).requires_grad_();
  ZeroRedundancyOptimizer single(
      {only}, [](const std::vector<Tensor>& p) { return std::make_unique<optim::SGD>(p, optim::SGDOptions(0.5)); });
  BOOST_CHECK_EQUAL(single.local_optimizer() != nullptr, dist::rank() == 0);
  only.set_grad(ones({3}));
  single.step();
  BOOST_CHECK((only.to_vector<float>() == std::vector<float>{0.5f, 0.5f, 0.5f}));  // rank 0's 1 - 0.5
}

BOOST_AUTO_TEST_SUITE_END()
