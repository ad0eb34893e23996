// DistributedDataParallel on 2 ranks: training equals one process on the global batches
// (and stays bit-identical across ranks), bucketing does not change the gradients, no_sync
// accumulation, unused parameters, buffers, checkpoints.
#include <unistd.h>
#include <filesystem>

#include "distributed_util.hpp"

using namespace xgrad;
namespace dist = xgrad::distributed;
namespace F = xgrad::nn::functional;
using dist::DistributedDataParallel;
using dist::DistributedDataParallelOptions;
using xgrad::test::max_abs_diff;
using xgrad::test::same_bits_on_all_ranks;

using xgrad::test::MpiFixture;
BOOST_TEST_GLOBAL_FIXTURE(MpiFixture);

namespace {

// 8 -> 16 -> 4 MLP; parameters "0.weight", "0.bias", "2.weight", "2.bias".
std::shared_ptr<nn::Sequential> mlp(std::uint64_t seed) {
  manual_seed(seed);
  return std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(8, 16), std::make_shared<nn::Tanh>(),
                                          std::make_shared<nn::Linear>(16, 4));
}

// The same rows on every rank (seeded by `seed`); rank r's share is rows [r b, (r + 1) b).
std::pair<Tensor, Tensor> global_batch(std::uint64_t seed, std::int64_t rows) {
  manual_seed(seed);
  Tensor x = randn({rows, 8});
  Tensor y = randn({rows, 4});
  return {x, y};
}

Tensor local_rows(const Tensor& t) {
  const std::int64_t b = t.size(0) / dist::world_size();
  return t.narrow(0, dist::rank() * b, b);
}

std::vector<Tensor> grads(const nn::Module& m) {
  std::vector<Tensor> g;
  for (const Tensor& p : m.parameters()) g.push_back(p.grad());
  return g;
}

// A module whose fc2 takes no part in forward.
struct Branchy : nn::Module {
  Branchy() : nn::Module("Branchy") {
    fc1 = register_module("fc1", std::make_shared<nn::Linear>(3, 2));
    fc2 = register_module("fc2", std::make_shared<nn::Linear>(3, 2));
  }
  Tensor forward(const Tensor& x) override { return fc1->forward(x); }
  std::shared_ptr<nn::Linear> fc1, fc2;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(distributed_ddp)

BOOST_AUTO_TEST_CASE(training_matches_one_process_on_the_global_batches) {
  const int n = dist::world_size();
  constexpr std::int64_t b = 3;  // rows per rank
  // Different initial weights per rank: the construction must broadcast rank 0's.
  auto model = mlp(1234 + static_cast<std::uint64_t>(dist::rank()));
  // ~300 bytes: buckets {2.bias, 2.weight}, {0.bias}, {0.weight}
  auto ddp =
      std::make_shared<DistributedDataParallel>(model, DistributedDataParallelOptions().bucket_cap_mb(300.0 / 1048576));
  BOOST_CHECK_EQUAL(ddp->bucket_parameter_names().size(), 3u);
  auto reference = mlp(1234);  // rank 0's initial weights, on every rank
  {
    const auto p = model->parameters(), q = reference->parameters();
    for (std::size_t i = 0; i < p.size(); ++i) BOOST_CHECK_EQUAL(max_abs_diff(p[i], q[i]), 0.0);
  }

  optim::SGD opt(ddp->parameters(), optim::SGDOptions(0.05).momentum(0.9));
  optim::SGD ref_opt(reference->parameters(), optim::SGDOptions(0.05).momentum(0.9));
  for (int step = 0; step < 6; ++step) {
    const auto [x, y] = global_batch(100 + static_cast<std::uint64_t>(step), n * b);
    opt.zero_grad();
    F::mse_loss(ddp->forward(local_rows(x)), local_rows(y)).backward();
    ref_opt.zero_grad();
    F::mse_loss((*reference)(x), y).backward();
    // the averaged gradient is there when backward returns
    const auto g = grads(*model), rg = grads(*reference);
    for (std::size_t i = 0; i < g.size(); ++i) {
      BOOST_CHECK(same_bits_on_all_ranks(g[i]));
      BOOST_CHECK_SMALL(max_abs_diff(g[i], rg[i]), 1e-6);
    }
    ddp->synchronize();  // a no-op here
    opt.step();
    ref_opt.step();
  }
  const auto p = model->parameters(), q = reference->parameters();
  for (std::size_t i = 0; i < p.size(); ++i) {
    BOOST_CHECK(same_bits_on_all_ranks(p[i]));
    BOOST_CHECK_SMALL(max_abs_diff(p[i], q[i]), 1e-5);
  }
  const dist::GradSyncStats stats = ddp->last_sync_stats();
  BOOST_CHECK_EQUAL(stats.buckets, 3);
  BOOST_CHECK_EQUAL(stats.bytes, model->num_parameters() * 4);
  BOOST_CHECK(stats.exposed >= 0 && stats.communication >= 0);
}

BOOST_AUTO_TEST_CASE(buckets_follow_reverse_registration_order_and_the_cap) {
  auto small = std::make_shared<DistributedDataParallel>(mlp(1), DistributedDataParallelOptions().bucket_cap_mb(1e-9));
  BOOST_CHECK((small->bucket_parameter_names() ==
               std::vector<std::vector<std::string>>{{"2.bias"}, {"2.weight"}, {"0.bias"}, {"0.weight"}}));
  auto medium = std::make_shared<DistributedDataParallel>(
      mlp(1), DistributedDataParallelOptions().bucket_cap_mb(300.0 / 1048576));
  BOOST_CHECK((medium->bucket_parameter_names() ==
               std::vector<std::vector<std::string>>{{"2.bias", "2.weight"}, {"0.bias"}, {"0.weight"}}));
  auto whole = std::make_shared<DistributedDataParallel>(mlp(1));  // 25 MB
  BOOST_CHECK((whole->bucket_parameter_names() ==
               std::vector<std::vector<std::string>>{{"2.bias", "2.weight", "0.bias", "0.weight"}}));
  BOOST_CHECK_EQUAL(whole->options().bucket_cap_mb(), 25.0);
  BOOST_CHECK(whole->options().broadcast_buffers());
  BOOST_CHECK(!whole->options().find_unused_parameters());
}

BOOST_AUTO_TEST_CASE(bucketed_and_unbucketed_give_the_same_gradients) {
  auto a = mlp(7), b = mlp(7);
  auto bucketed = std::make_shared<DistributedDataParallel>(a, DistributedDataParallelOptions().bucket_cap_mb(1e-9));
  auto unbucketed = std::make_shared<DistributedDataParallel>(b, DistributedDataParallelOptions().bucket_cap_mb(1000));
  BOOST_CHECK_EQUAL(bucketed->bucket_parameter_names().size(), 4u);
  BOOST_CHECK_EQUAL(unbucketed->bucket_parameter_names().size(), 1u);
  const auto [x, y] = global_batch(5, 2 * dist::world_size());
  F::mse_loss(bucketed->forward(local_rows(x)), local_rows(y)).backward();
  F::mse_loss(unbucketed->forward(local_rows(x)), local_rows(y)).backward();
  const auto ga = grads(*a), gb = grads(*b);
  for (std::size_t i = 0; i < ga.size(); ++i) {
    BOOST_REQUIRE(ga[i].defined());
    BOOST_CHECK((ga[i].to_vector<float>() == gb[i].to_vector<float>()));
    BOOST_CHECK(same_bits_on_all_ranks(ga[i]));
  }
}

BOOST_AUTO_TEST_CASE(no_sync_accumulates_locally_then_averages_the_sum) {
  auto a = mlp(11), b = mlp(11), local = mlp(11);
  auto ddp_a = std::make_shared<DistributedDataParallel>(a);
  auto ddp_b = std::make_shared<DistributedDataParallel>(b);
  manual_seed(50 + static_cast<std::uint64_t>(dist::rank()));  // each rank its own micro-batches
  const Tensor x1 = randn({4, 8}), y1 = randn({4, 4}), x2 = randn({4, 8}), y2 = randn({4, 4});
  {
    auto guard = ddp_a->no_sync();
    BOOST_CHECK(!ddp_a->require_backward_grad_sync());
    F::mse_loss(ddp_a->forward(x1), y1).backward();
  }
  BOOST_CHECK(ddp_a->require_backward_grad_sync());
  // no communication under no_sync: the local gradient
  F::mse_loss((*local)(x1), y1).backward();
  const auto ga1 = grads(*a), gl = grads(*local);
  for (std::size_t i = 0; i < ga1.size(); ++i) BOOST_CHECK((ga1[i].to_vector<float>() == gl[i].to_vector<float>()));
  F::mse_loss(ddp_a->forward(x2), y2).backward();  // synced: averages the accumulated sum
  (F::mse_loss(ddp_b->forward(x1), y1) + F::mse_loss(ddp_b->forward(x2), y2)).backward();  // one big batch
  const auto ga = grads(*a), gb = grads(*b);
  for (std::size_t i = 0; i < ga.size(); ++i) {
    BOOST_CHECK(same_bits_on_all_ranks(ga[i]));
    BOOST_CHECK_SMALL(max_abs_diff(ga[i], gb[i]), 1e-6);
  }
}

BOOST_AUTO_TEST_CASE(unused_parameters) {
  manual_seed(3);
  const Tensor x = randn({2, 3}).add(static_cast<double>(dist::rank()));
  {  // default: the reduction cannot finish; forward and synchronize say why
    auto net = std::make_shared<Branchy>();
    auto ddp = std::make_shared<DistributedDataParallel>(net);
    ddp->forward(x).sum().backward();
    XGRAD_CHECK_THROW_MSG(ddp->forward(x),
                          "DistributedDataParallel: the previous backward's gradient reduction was "
                          "not finished: no gradient reached module.fc2.bias, module.fc2.weight");
    XGRAD_CHECK_THROW_MSG(ddp->synchronize(),
                          "DistributedDataParallel: no gradient reached module.fc2.bias, "
                          "module.fc2.weight in this backward; pass find_unused_parameters(true)");
    ddp->forward(x);  // usable again
  }
  {  // find_unused_parameters: synchronize() averages, unused parameters contribute zeros
    auto net = std::make_shared<Branchy>();
    auto plain = std::make_shared<Branchy>();
    auto ddp =
        std::make_shared<DistributedDataParallel>(net, DistributedDataParallelOptions().find_unused_parameters(true));
    plain->load_state_dict(net->state_dict());  // rank 0's weights
    ddp->forward(x).sum().backward();
    ddp->synchronize();
    ddp->synchronize();  // no-op
    (*plain)(x).sum().backward();
    Tensor expected = plain->fc1->weight.grad().clone();
    dist::all_reduce(expected, dist::ReduceOp::mean);
    BOOST_CHECK_SMALL(max_abs_diff(net->fc1->weight.grad(), expected), 1e-6);
    BOOST_CHECK(same_bits_on_all_ranks(net->fc1->weight.grad()));
    BOOST_REQUIRE(net->fc2->weight.grad().defined());
    BOOST_CHECK_EQUAL(net->fc2->weight.grad().abs().sum().item<double>(), 0.0);
  }
}

BOOST_AUTO_TEST_CASE(construction_broadcasts_and_checks_the_modules) {
  manual_seed(21);
  auto net = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(4, 4), std::make_shared<nn::BatchNorm1d>(4));
  auto bn = std::dynamic_pointer_cast<nn::BatchNorm1d>(net->children()[1]);
  if (dist::rank() == 1) bn->running_mean.fill_(5.0);
  auto ddp = std::make_shared<DistributedDataParallel>(net);
  BOOST_CHECK_EQUAL(bn->running_mean.abs().sum().item<double>(), 0.0);  // rank 0's buffer
  const auto keys = ddp->state_dict();
  BOOST_CHECK(keys.count("module.0.weight") == 1 && keys.count("module.1.running_mean") == 1);
  // training forwards update the running statistics with local batches; the next forward
  // starts from rank 0's (broadcast_buffers)
  manual_seed(30 + static_cast<std::uint64_t>(dist::rank()));
  ddp->forward(randn({6, 4})).sum().backward();
  BOOST_CHECK(!same_bits_on_all_ranks(bn->running_mean));
  ddp->eval();
  ddp->forward(randn({2, 4}));
  BOOST_CHECK(same_bits_on_all_ranks(bn->running_mean));
  BOOST_CHECK(same_bits_on_all_ranks(bn->running_var));

  XGRAD_CHECK_THROW_MSG(DistributedDataParallel(nullptr), "DistributedDataParallel: got a null module");
  XGRAD_CHECK_THROW_MSG(DistributedDataParallel(mlp(1), DistributedDataParallelOptions().bucket_cap_mb(0)),
                        "DistributedDataParallel: invalid bucket_cap_mb 0 (must be > 0)");
  auto mismatched = std::make_shared<nn::Linear>(4, 4 + dist::rank());
  XGRAD_CHECK_THROW_MSG(DistributedDataParallel{mismatched}, "DistributedDataParallel: the ranks' modules differ");
  BOOST_CHECK(ddp->extra_repr().find("world_size=" + std::to_string(dist::world_size()) +
                                     ", buckets=1, bucket_cap_mb=25") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(checkpoints_written_by_rank_0_and_loaded_everywhere) {
  Tensor pid = full({}, static_cast<double>(getpid()), TensorOptions().dtype(Dtype::int64));
  dist::broadcast(pid, 0);  // one path for all ranks
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("xgrad_ddp_checkpoint_" + std::to_string(pid.item<std::int64_t>()) + ".safetensors"))
                               .string();
  auto model = mlp(40);
  auto ddp = std::make_shared<DistributedDataParallel>(model);
  optim::Adam opt(ddp->parameters(), optim::AdamOptions(0.01));
  const auto [x, y] = global_batch(41, 2 * dist::world_size());
  for (int step = 0; step < 2; ++step) {
    opt.zero_grad();
    F::mse_loss(ddp->forward(local_rows(x)), local_rows(y)).backward();
    opt.step();
  }
  dist::save_checkpoint(path, *ddp, &opt, {{"epoch", "3"}});
  BOOST_CHECK(std::filesystem::exists(path));  // visible to every rank here (one machine)

  auto fresh = mlp(77 + static_cast<std::uint64_t>(dist::rank()));
  auto ddp2 = std::make_shared<DistributedDataParallel>(fresh);
  optim::Adam opt2(ddp2->parameters(), optim::AdamOptions(0.5));
  const Metadata meta = dist::load_checkpoint(path, *ddp2, &opt2);
  BOOST_CHECK(meta.at("epoch") == "3");
  const auto p = model->parameters(), q = fresh->parameters();
  for (std::size_t i = 0; i < p.size(); ++i) BOOST_CHECK_EQUAL(max_abs_diff(p[i], q[i]), 0.0);
  BOOST_CHECK_EQUAL(opt2.param_groups()[0].options().get_lr(), 0.01);
  // one more step in both: same result (Adam's moments were restored)
  for (auto* pair : {&opt, &opt2}) pair->zero_grad();
  F::mse_loss(ddp->forward(local_rows(x)), local_rows(y)).backward();
  F::mse_loss(ddp2->forward(local_rows(x)), local_rows(y)).backward();
  opt.step();
  opt2.step();
  for (std::size_t i = 0; i < p.size(); ++i) BOOST_CHECK_EQUAL(max_abs_diff(p[i], q[i]), 0.0);

  // the model alone; errors reach every rank
  XGRAD_CHECK_THROW_MSG(dist::load_checkpoint(path + ".missing", *ddp2),
                        "load_checkpoint: rank 0 cannot open " + path + ".missing");
  XGRAD_CHECK_THROW_MSG(dist::save_checkpoint("/nonexistent-xgrad-dir/c.safetensors", *ddp),
                        "save_checkpoint: rank 0 failed to write /nonexistent-xgrad-dir/c.safetensors");
  dist::save_checkpoint(path, *model);  // no optimizer
  XGRAD_CHECK_THROW_MSG(dist::load_checkpoint(path, *fresh, &opt2), "holds no optimizer state");
  dist::load_checkpoint(path, *fresh);
  dist::barrier();
  if (dist::rank() == 0) std::filesystem::remove(path);
}

BOOST_AUTO_TEST_SUITE_END()
