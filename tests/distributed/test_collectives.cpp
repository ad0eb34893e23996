// Environment and collectives (all_reduce, broadcast, all_gather, reduce_scatter, the async
// variants): values on 2 ranks, and the errors, which every rank must throw alike.
#include "distributed_util.hpp"

using namespace xgrad;
namespace dist = xgrad::distributed;
using dist::ReduceOp;

using xgrad::test::MpiFixture;
BOOST_TEST_GLOBAL_FIXTURE(MpiFixture);

namespace {
// Rank r's tensor: base + 10 r, elementwise.
Tensor per_rank(std::vector<double> base, Dtype d) {
  for (double& v : base) v += 10.0 * dist::rank();
  return from_vector(base, {static_cast<std::int64_t>(base.size())}).to(d);
}
}  // namespace

BOOST_AUTO_TEST_SUITE(distributed_collectives)

BOOST_AUTO_TEST_CASE(environment_basics) {
  BOOST_REQUIRE(dist::is_initialized());
  BOOST_REQUIRE_EQUAL(dist::world_size(), 2);
  BOOST_CHECK(dist::rank() == 0 || dist::rank() == 1);
  dist::barrier();
  BOOST_CHECK_EQUAL(dist::timeout(), 60.0);
  XGRAD_CHECK_THROW_MSG(dist::set_timeout(-1), "set_timeout: invalid timeout -1 (must be >= 0)");
  XGRAD_CHECK_THROW_MSG(dist::Environment(dist::EnvironmentOptions().timeout(-2)),
                        "Environment: invalid timeout -2 (must be >= 0)");
  {  // a nested Environment (MPI already running) changes the options for its lifetime only
    dist::Environment inner(dist::EnvironmentOptions().timeout(5));
    BOOST_CHECK_EQUAL(dist::timeout(), 5.0);
    dist::barrier();
  }
  BOOST_CHECK_EQUAL(dist::timeout(), 60.0);
  BOOST_CHECK_EQUAL(dist::to_string(ReduceOp::mean), std::string("mean"));
}

BOOST_AUTO_TEST_CASE(all_reduce_values) {
  for (Dtype d : {Dtype::float32, Dtype::float64, Dtype::int64, Dtype::int32}) {
    // rank 0: {1, -2, 3}, rank 1: {11, 8, 13}
    Tensor s = per_rank({1, -2, 3}, d);
    dist::all_reduce(s, ReduceOp::sum);
    BOOST_CHECK(s.dtype() == d);
    BOOST_CHECK((s.to(Dtype::float64).to_vector<double>() == std::vector<double>{12, 6, 16}));
    Tensor mx = per_rank({1, -2, 3}, d);
    dist::all_reduce(mx, ReduceOp::max);
    BOOST_CHECK((mx.to(Dtype::float64).to_vector<double>() == std::vector<double>{11, 8, 13}));
    Tensor mn = per_rank({1, -2, 3}, d);
    dist::all_reduce(mn, ReduceOp::min);
    BOOST_CHECK((mn.to(Dtype::float64).to_vector<double>() == std::vector<double>{1, -2, 3}));
  }
  Tensor m = per_rank({1, -2, 3.5}, Dtype::float32);
  dist::all_reduce(m, ReduceOp::mean);  // (x + x + 10) / 2 = x + 5
  BOOST_CHECK((m.to_vector<float>() == std::vector<float>{6, 3, 8.5f}));
  // 0-d, empty, and a 2-d tensor keep their shapes
  Tensor z = full({}, 1.0 + dist::rank());
  dist::all_reduce(z);
  BOOST_CHECK(z.dim() == 0);
  BOOST_CHECK_EQUAL(z.item<double>(), 3.0);
  Tensor e = zeros({0, 3});
  dist::all_reduce(e);
  BOOST_CHECK((e.shape() == Shape{0, 3}));
  Tensor two = ones({2, 2});
  dist::all_reduce(two);
  BOOST_CHECK((two.to_vector<float>() == std::vector<float>{2, 2, 2, 2}));
}

BOOST_AUTO_TEST_CASE(all_reduce_writes_through_temporary_handles) {
  Tensor w = ones({2, 3}).requires_grad_();
  dist::all_reduce(w.detach());  // a temporary handle sharing w's data
  BOOST_CHECK((w.to_vector<float>() == std::vector<float>(6, 2.0f)));
  w.set_grad(full({2, 3}, 1.0 + dist::rank()));
  dist::all_reduce(w.grad(), ReduceOp::mean);
  BOOST_CHECK((w.grad().to_vector<float>() == std::vector<float>(6, 1.5f)));
}

BOOST_AUTO_TEST_CASE(broadcast_values) {
  for (int root : {0, 1}) {
    Tensor t = per_rank({1, 2, 3}, Dtype::float64);
    dist::broadcast(t, root);
    BOOST_CHECK((t.to_vector<double>() == std::vector<double>{1 + 10.0 * root, 2 + 10.0 * root, 3 + 10.0 * root}));
  }
  Tensor b =
      dist::rank() == 0 ? from_vector(std::vector<double>{1, 0, 1}).gt(full({3}, 0.5)) : zeros({3}).gt(full({3}, 0.5));
  dist::broadcast(b, 0);
  BOOST_CHECK((b.to(Dtype::int64).to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 0, 1}));
}

BOOST_AUTO_TEST_CASE(all_gather_values) {
  const Tensor t = per_rank({1, 2, 3, 4}, Dtype::int64).view({2, 2});
  const std::vector<Tensor> all = dist::all_gather(t.t());  // a non-contiguous input is fine
  BOOST_REQUIRE_EQUAL(all.size(), 2u);
  BOOST_CHECK((all[0].shape() == Shape{2, 2}));
  BOOST_CHECK((all[0].to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 3, 2, 4}));
  BOOST_CHECK((all[1].to_vector<std::int64_t>() == std::vector<std::int64_t>{11, 13, 12, 14}));
  const Tensor cat = dist::all_gather_into_tensor(t);
  BOOST_CHECK((cat.shape() == Shape{4, 2}));
  BOOST_CHECK((cat.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 2, 3, 4, 11, 12, 13, 14}));
  const Tensor scalars = dist::all_gather_into_tensor(full({}, 1.0 * dist::rank()));
  BOOST_CHECK((scalars.shape() == Shape{2}));
  BOOST_CHECK((scalars.to_vector<float>() == std::vector<float>{0, 1}));
}

BOOST_AUTO_TEST_CASE(reduce_scatter_values) {
  // rank 0: rows {1,2},{3,4}; rank 1: {11,12},{13,14}; sum: {12,14},{16,18}
  const Tensor t = per_rank({1, 2, 3, 4}, Dtype::float32).view({2, 2});
  const Tensor mine = dist::reduce_scatter(t);
  BOOST_CHECK((mine.shape() == Shape{1, 2}));
  const std::vector<float> want = dist::rank() == 0 ? std::vector<float>{12, 14} : std::vector<float>{16, 18};
  BOOST_CHECK(mine.to_vector<float>() == want);
  const Tensor mean = dist::reduce_scatter(t, ReduceOp::mean);
  const std::vector<float> half = dist::rank() == 0 ? std::vector<float>{6, 7} : std::vector<float>{8, 9};
  BOOST_CHECK(mean.to_vector<float>() == half);
  const Tensor mx = dist::reduce_scatter(t.to(Dtype::int64), ReduceOp::max);
  const std::vector<std::int64_t> top =
      dist::rank() == 0 ? std::vector<std::int64_t>{11, 12} : std::vector<std::int64_t>{13, 14};
  BOOST_CHECK(mx.to_vector<std::int64_t>() == top);
}

BOOST_AUTO_TEST_CASE(async_variants) {
  Tensor a = per_rank({1, 2}, Dtype::float64);
  Tensor b = per_rank({5}, Dtype::float32);
  dist::Work wa = dist::all_reduce_async(a, ReduceOp::mean);
  dist::Work wb = dist::broadcast_async(b, 1);
  wa.wait();
  wa.wait();  // idempotent
  BOOST_CHECK(wa.is_completed());
  wb.wait();
  BOOST_CHECK((a.to_vector<double>() == std::vector<double>{6, 7}));
  BOOST_CHECK((b.to_vector<float>() == std::vector<float>{15}));
  dist::Work none;
  BOOST_CHECK(none.is_completed());
  {  // destroying a pending Work waits for it
    Tensor c = ones({3});
    dist::Work wc = dist::all_reduce_async(c);
    dist::Work moved = std::move(wc);
  }
  dist::barrier();
}

BOOST_AUTO_TEST_CASE(errors) {
  Tensor undefined;
  XGRAD_CHECK_THROW_MSG(dist::all_reduce(undefined), "all_reduce: got an undefined tensor");
  Tensor strided = ones({3, 2}).t();
  XGRAD_CHECK_THROW_MSG(dist::all_reduce(strided), "all_reduce: the tensor must be contiguous");
  Tensor param = ones({2}).requires_grad_();
  XGRAD_CHECK_THROW_MSG(dist::all_reduce(param), "all_reduce: the tensor requires grad");
  XGRAD_CHECK_THROW_MSG(dist::broadcast(param), "broadcast: the tensor requires grad");
  Tensor flags = ones({2}).gt(zeros({2}));
  XGRAD_CHECK_THROW_MSG(dist::all_reduce(flags), "all_reduce: not supported for bool tensors");
  XGRAD_CHECK_THROW_MSG(dist::reduce_scatter(ones({2}).gt(zeros({2}))),
                        "reduce_scatter: not supported for bool tensors");
  Tensor ints = ones({2}).to(Dtype::int64);
  XGRAD_CHECK_THROW_MSG(dist::all_reduce(ints, ReduceOp::mean),
                        "all_reduce: ReduceOp::mean needs a floating tensor, got int64");
  Tensor t = ones({2});
  XGRAD_CHECK_THROW_MSG(dist::broadcast(t, 2), "broadcast: root 2 is out of range for a world of 2 rank(s)");
  XGRAD_CHECK_THROW_MSG(dist::broadcast(t, -1), "broadcast: root -1 is out of range");
  XGRAD_CHECK_THROW_MSG(dist::reduce_scatter(ones({3, 2})),
                        "reduce_scatter: dim 0 of the input (shape [3, 2]) must be divisible by the world size 2");
  XGRAD_CHECK_THROW_MSG(dist::reduce_scatter(full({}, 1.0)),
                        "reduce_scatter: expected an input with at least one dimension");
  XGRAD_CHECK_THROW_MSG(dist::all_gather(undefined), "all_gather: got an undefined tensor");
  // mismatches across ranks throw on every rank (none hangs)
  Tensor mismatched = ones({3 + dist::rank()});
  XGRAD_CHECK_THROW_MSG(dist::all_reduce(mismatched), "all_reduce: the ranks disagree");
  XGRAD_CHECK_THROW_MSG(dist::all_gather(mismatched), "all_gather: the ranks disagree");
  XGRAD_CHECK_THROW_MSG(dist::reduce_scatter(ones({2}).to(dist::rank() ? Dtype::float64 : Dtype::float32)),
                        "reduce_scatter: the ranks disagree");
  Tensor same = ones({2});
  XGRAD_CHECK_THROW_MSG(
      dist::all_reduce(same, dist::rank() ? ReduceOp::max : ReduceOp::sum),
      "all_reduce: the ranks disagree: every rank must pass a tensor of the same shape and dtype and the same op");
  XGRAD_CHECK_THROW_MSG(dist::broadcast(same, dist::rank()), "broadcast: the ranks disagree");
  // still in step afterwards
  Tensor ok = ones({2});
  dist::all_reduce(ok);
  BOOST_CHECK((ok.to_vector<float>() == std::vector<float>{2, 2}));
}

BOOST_AUTO_TEST_SUITE_END()
