// The bool and int32 dtypes and PyTorch's type promotion: the promote_types table, result_type
// with 0-d tensors and scalars, tensor() literal inference, conversions (and their range
// checks), promotion through autograd (a float32 input meeting a float64 one gets a float32
// gradient), bool arithmetic and masks, logical/bitwise ops, any/all, true and rounding
// division, printing and safetensors.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>

#include "test_util.hpp"
#include "xgrad/autograd/serialize.hpp"

using namespace xgrad;
using xgrad::test::check_gradcheck;

BOOST_AUTO_TEST_SUITE(dtype_promotion)

BOOST_AUTO_TEST_CASE(promote_types_table) {
  // Rows and columns in the order bool, int32, int64, float32, float64 (the header's table).
  const std::vector<Dtype> d = {boolean, int32, int64, float32, float64};
  const std::vector<std::vector<Dtype>> want = {
      {boolean, int32, int64, float32, float64},  {int32, int32, int64, float32, float64},
      {int64, int64, int64, float32, float64},    {float32, float32, float32, float32, float64},
      {float64, float64, float64, float64, float64}};
  for (std::size_t i = 0; i < d.size(); ++i)
    for (std::size_t j = 0; j < d.size(); ++j)
      BOOST_CHECK_MESSAGE(promote_types(d[i], d[j]) == want[i][j],
                          dtype_name(d[i]) << " + " << dtype_name(d[j]) << " gave " << dtype_name(promote_types(d[i], d[j])));
  BOOST_CHECK_EQUAL(dtype_name(boolean), "bool");
  BOOST_CHECK_EQUAL(dtype_name(int32), "int32");
  BOOST_CHECK_EQUAL(dtype_size(boolean), 1u);
  BOOST_CHECK_EQUAL(dtype_size(int32), 4u);
  BOOST_CHECK(is_integral(int32) && !is_integral(boolean) && is_integral(boolean, true) && !is_floating(int32));
}

BOOST_AUTO_TEST_CASE(result_type_with_zero_dim_tensors_and_scalars) {
  const Tensor f32 = zeros({2}), f64v = zeros({2}, dtype(float64)), i64 = zeros({2}, dtype(int64));
  const Tensor i32 = zeros({2}, dtype(int32)), b = zeros({2}, dtype(boolean));
  BOOST_CHECK(result_type(i64, f32) == float32);
  BOOST_CHECK(result_type(b, i32) == int32);
  BOOST_CHECK(result_type(f32, f64v) == float64);
  // A 0-d tensor counts only when its category is higher (PyTorch's rule).
  BOOST_CHECK(result_type(f32, scalar_tensor(1.0, dtype(float64))) == float32);
  BOOST_CHECK(result_type(i32, scalar_tensor(1.0, dtype(int64))) == int32);
  BOOST_CHECK(result_type(i64, scalar_tensor(1.5, dtype(float64))) == float64);
  BOOST_CHECK(result_type(scalar_tensor(1.0, dtype(float64)), scalar_tensor(1.0)) == float64);  // both 0-d
  // Scalars never widen within a category.
  BOOST_CHECK(result_type(f32, 2.5) == float32);
  BOOST_CHECK(result_type(i32, 3.0) == int32);
  BOOST_CHECK(result_type(i64, 0.5) == float32);
  BOOST_CHECK(result_type(i64, std::numeric_limits<double>::infinity()) == float32);
  BOOST_CHECK(result_type(b, 1.0) == int64);
  BOOST_CHECK(result_type(b, 0.5) == float32);
  // And the ops follow it.
  BOOST_CHECK((i64 + f32).dtype() == float32);
  BOOST_CHECK((b + i32).dtype() == int32);
  BOOST_CHECK((f32 * scalar_tensor(2.0, dtype(float64))).dtype() == float32);
  BOOST_CHECK((i64 * scalar_tensor(2.5, dtype(float64))).dtype() == float64);
  BOOST_CHECK((i32 + 1.0).dtype() == int32);
  BOOST_CHECK(maximum(i32, f64v).dtype() == float64);
  BOOST_CHECK(where(b, i64, f32).dtype() == float32);
  BOOST_CHECK(where(b, i64, 0.5).dtype() == float32);
  BOOST_CHECK(where(b, 1.0, i32).dtype() == int32);
}

BOOST_AUTO_TEST_CASE(tensor_literals_infer_the_dtype) {
  BOOST_CHECK(tensor({1, 2, 3}).dtype() == int64);
  BOOST_CHECK(tensor({1., 2., 3.}).dtype() == float32);
  BOOST_CHECK(tensor({1, 2.5}).dtype() == float32);  // any floating literal
  BOOST_CHECK(tensor({true, false}).dtype() == boolean);
  BOOST_CHECK(tensor({{true}, {1}}).dtype() == int64);
  BOOST_CHECK(tensor({1, 2}, dtype(float64)).dtype() == float64);
  BOOST_CHECK(tensor({1., 2.}, dtype(int32)).dtype() == int32);
  // int64 literals beyond 2^53 stay exact.
  const std::int64_t big = (std::int64_t{1} << 60) + 1;
  BOOST_CHECK_EQUAL(tensor({big}).item<std::int64_t>(), big);
  BOOST_CHECK((tensor({true, false, true}).to_vector<bool>() == std::vector<bool>{true, false, true}));
  XGRAD_CHECK_THROW_MSG(tensor({1.5}, dtype(int64)), "tensor: the value 1.5 cannot be represented as int64");
  XGRAD_CHECK_THROW_MSG(tensor({big}, dtype(int32)), "tensor: the value 1152921504606846977 cannot be represented as int32");
  XGRAD_CHECK_THROW_MSG(full({2}, std::nan(""), dtype(int64)), "full: the value nan cannot be represented as int64");
  XGRAD_CHECK_THROW_MSG(scalar_tensor(3e9, dtype(int32)), "scalar_tensor: the value 3000000000 cannot be represented");
  BOOST_CHECK((from_vector(std::vector<std::int32_t>{-1, 7}).to_vector<std::int32_t>() == std::vector<std::int32_t>{-1, 7}));
  BOOST_CHECK((from_vector(std::vector<bool>{false, true}).to_vector<bool>() == std::vector<bool>{false, true}));
}

BOOST_AUTO_TEST_CASE(conversions) {
  const Tensor f = tensor({-2.5, 0., 3.75, std::nan("")});
  BOOST_CHECK((f.to(boolean).to_vector<bool>() == std::vector<bool>{true, false, true, true}));  // NaN is true
  BOOST_CHECK((f.narrow(0, 0, 3).to(int32).to_vector<std::int32_t>() == std::vector<std::int32_t>{-2, 0, 3}));
  BOOST_CHECK((tensor({true, false}).to(float64).to_vector<double>() == std::vector<double>{1., 0.}));
  // Casting NaN, inf or an out-of-range value to an integer is undefined in C++: it throws.
  XGRAD_CHECK_THROW_MSG(f.to(int64), "to: cannot convert the value nan of Tensor(shape=[4], dtype=float32) to int64");
  XGRAD_CHECK_THROW_MSG(tensor({3e9}).to(int32), "to: cannot convert the value 3000000000");
  XGRAD_CHECK_THROW_MSG(tensor({-std::numeric_limits<double>::infinity()}, dtype(float64)).to(int64), "-inf");
  BOOST_CHECK_EQUAL(tensor({-2147483648.}, dtype(float64)).to(int32).item<std::int64_t>(), -2147483648LL);
  XGRAD_CHECK_THROW_MSG(tensor({2147483648.}, dtype(float64)).to(int32), "2147483648");
  // A tensor that requires grad cannot become non-floating.
  Tensor g = tensor({1.}).requires_grad_();
  XGRAD_CHECK_THROW_MSG(g.to(boolean), "to: cannot convert Tensor(shape=[1], dtype=float32) that requires grad to bool");
}

BOOST_AUTO_TEST_CASE(promotion_is_differentiable) {
  // z = x * y with x float32 and y float64: z is float64, dz/dx = y arrives as float32 and
  // dz/dy = x as float64. Hand values: x = [2, 3], y = [0.5, -1] -> x.grad = [0.5, -1],
  // y.grad = [2, 3].
  Tensor x = tensor({2., 3.}).requires_grad_();
  Tensor y = tensor({0.5, -1.}, dtype(float64)).requires_grad_();
  Tensor z = x * y;
  BOOST_CHECK(z.dtype() == float64);
  z.sum().backward();
  BOOST_CHECK(x.grad().dtype() == float32);
  BOOST_CHECK(y.grad().dtype() == float64);
  BOOST_CHECK((x.grad().to_vector<float>() == std::vector<float>{0.5f, -1.f}));
  BOOST_CHECK((y.grad().to_vector<double>() == std::vector<double>{2., 3.}));
  // An integer operand just takes part: d(x + i)/dx = 1.
  Tensor a = tensor({1., 2.}, dtype(float64)).requires_grad_();
  (a * tensor({3, 4})).sum().backward();
  BOOST_CHECK((a.grad().to_vector<double>() == std::vector<double>{3., 4.}));
  // gradcheck through the promoted op: float64 leaves against an int64 and a bool operand.
  const Tensor iv = tensor({{1, -2}, {3, 0}}), mask = tensor({{true, false}, {true, true}});
  check_gradcheck([&](const std::vector<Tensor>& t) { return t[0] * iv + mask * t[0] - iv / (t[0] * t[0] + 1.); },
                  {randn({2, 2}, dtype(float64)).requires_grad_()});
}

BOOST_AUTO_TEST_CASE(bool_arithmetic_and_masks) {
  const Tensor p = tensor({true, true, false, false}), q = tensor({true, false, true, false});
  BOOST_CHECK(((p + q).to_vector<bool>() == std::vector<bool>{true, true, true, false}));  // or
  BOOST_CHECK(((p * q).to_vector<bool>() == std::vector<bool>{true, false, false, false}));  // and
  BOOST_CHECK((maximum(p, q).to_vector<bool>() == std::vector<bool>{true, true, true, false}));
  BOOST_CHECK((minimum(p, q).to_vector<bool>() == std::vector<bool>{true, false, false, false}));
  BOOST_CHECK(((p + 1.0).to_vector<std::int64_t>() == std::vector<std::int64_t>{2, 2, 1, 1}));
  BOOST_CHECK(sum(p).dtype() == int64);
  BOOST_CHECK_EQUAL(sum(p).item<std::int64_t>(), 2);
  BOOST_CHECK_EQUAL(sum(tensor({1, 2}, dtype(int32))).item<std::int64_t>(), 3);
  BOOST_CHECK(sum(tensor({1, 2}, dtype(int32))).dtype() == int64);
  // A mask selects with where and weighs with *.
  const Tensor x = tensor({1., -2., 3., -4.});
  BOOST_CHECK(((x * (x > 0.)).to_vector<float>() == std::vector<float>{1.f, 0.f, 3.f, 0.f}));
  BOOST_CHECK((where(x > 0., x, 0.0).to_vector<float>() == std::vector<float>{1.f, 0.f, 3.f, 0.f}));
  XGRAD_CHECK_THROW_MSG(p - q, "sub: subtraction of two bool tensors");
  XGRAD_CHECK_THROW_MSG(-p, "neg: not supported for bool tensors");
  XGRAD_CHECK_THROW_MSG(mean(p), "mean: expected a floating dtype");
}

BOOST_AUTO_TEST_CASE(logical_bitwise_any_all) {
  const Tensor p = tensor({true, true, false, false}), q = tensor({true, false, true, false});
  BOOST_CHECK((logical_and(p, q).to_vector<bool>() == std::vector<bool>{true, false, false, false}));
  BOOST_CHECK((logical_or(p, q).to_vector<bool>() == std::vector<bool>{true, true, true, false}));
  BOOST_CHECK((logical_xor(p, q).to_vector<bool>() == std::vector<bool>{false, true, true, false}));
  BOOST_CHECK((logical_not(p).to_vector<bool>() == std::vector<bool>{false, false, true, true}));
  BOOST_CHECK(((p & ~q).to_vector<bool>() == std::vector<bool>{false, true, false, false}));
  BOOST_CHECK(((p | q).to_vector<bool>() == std::vector<bool>{true, true, true, false}));
  BOOST_CHECK(((p ^ q).to_vector<bool>() == std::vector<bool>{false, true, true, false}));
  // Any dtype is read as nonzero = true; broadcasting applies.
  BOOST_CHECK((logical_and(tensor({0.5, 0., std::nan("")}), tensor({2})).to_vector<bool>() ==
               std::vector<bool>{true, false, true}));
  // Bitwise on integers, promoted like arithmetic.
  BOOST_CHECK(((tensor({12, 10}) & tensor({10, 6}, dtype(int32))).to_vector<std::int64_t>() ==
               std::vector<std::int64_t>{8, 2}));
  BOOST_CHECK(((~tensor({0, 5}, dtype(int32))).to_vector<std::int32_t>() == std::vector<std::int32_t>{-1, -6}));
  XGRAD_CHECK_THROW_MSG(tensor({1.}) & tensor({1}),
                        "bitwise_and: bitwise ops need bool or integer tensors, got float32 and int64");
  XGRAD_CHECK_THROW_MSG(~tensor({1.}), "bitwise_not: bitwise ops need bool or integer tensors, got float32");
  // any / all, whole and along a dim; the empty set gives false / true.
  const Tensor m = tensor({{1., 0., 0.}, {1., 2., 3.}});
  BOOST_CHECK(any(m).item<bool>() && !all(m).item<bool>());
  BOOST_CHECK((any(m, {1}).to_vector<bool>() == std::vector<bool>{true, true}));
  BOOST_CHECK((all(m, {1}).to_vector<bool>() == std::vector<bool>{false, true}));
  BOOST_CHECK((all(m, {0}, true).shape() == Shape{1, 3}));
  BOOST_CHECK((all(m, {0}).to_vector<bool>() == std::vector<bool>{true, false, false}));
  BOOST_CHECK(!any(zeros({0})).item<bool>() && all(zeros({0})).item<bool>());
  BOOST_CHECK(any(m).dtype() == boolean && all(m, {0}).dtype() == boolean);
  BOOST_CHECK(!any(m.detach().requires_grad_()).requires_grad());
}

BOOST_AUTO_TEST_CASE(true_division) {
  const Tensor a = tensor({7, -7, 1});
  BOOST_CHECK((a / tensor({2, 2, 4})).dtype() == float32);
  BOOST_CHECK(((a / tensor({2, 2, 4})).to_vector<float>() == std::vector<float>{3.5f, -3.5f, 0.25f}));
  BOOST_CHECK(((a / 2.0).to_vector<float>() == std::vector<float>{3.5f, -3.5f, 0.5f}));
  BOOST_CHECK((tensor({true}) / tensor({true})).dtype() == float32);
  BOOST_CHECK((a / tensor({2.}, dtype(float64))).dtype() == float64);
  BOOST_CHECK(div(a, tensor({2}), "floor").dtype() == int64);
  BOOST_CHECK(!div(tensor({1.}).requires_grad_(), tensor({2.}), "floor").requires_grad());
}

BOOST_AUTO_TEST_CASE(integer_edge_cases_are_defined) {
  // Integer arithmetic wraps (two's complement, as PyTorch) instead of overflowing (undefined
  // behaviour in C++; UBSan checks these in CI).
  const Tensor imax = full({1}, 2147483647., dtype(int32)), imin = full({1}, -2147483648., dtype(int32));
  BOOST_CHECK_EQUAL((imax + 1.0).item<std::int64_t>(), -2147483648LL);
  BOOST_CHECK_EQUAL((imax * tensor({2}, dtype(int32))).item<std::int64_t>(), -2);
  BOOST_CHECK_EQUAL((-imin).item<std::int64_t>(), -2147483648LL);
  BOOST_CHECK_EQUAL(abs(imin).item<std::int64_t>(), -2147483648LL);
  BOOST_CHECK_EQUAL(sum(from_vector(std::vector<std::int64_t>{INT64_MAX, 1})).item<std::int64_t>(), INT64_MIN);
  // Float floor division through fmod, as Python: 1 // 0.1 is 9 (floor(1 / 0.1) would be 10).
  const auto fd = div(tensor({1., -1., 7., -0.}, dtype(float64)), tensor({0.1, 0.1, 0., 3.}, dtype(float64)), "floor")
                      .to_vector<double>();
  BOOST_CHECK_EQUAL(fd[0], 9.);
  BOOST_CHECK_EQUAL(fd[1], -10.);
  BOOST_CHECK(std::isinf(fd[2]));
  BOOST_CHECK(fd[3] == 0. && std::signbit(fd[3]));
  // Comparisons of integers with a double are exact beyond 2^53.
  BOOST_CHECK(!eq(tensor({std::int64_t{9007199254740993}}), 9007199254740992.).item<bool>());
  BOOST_CHECK(gt(tensor({std::int64_t{9007199254740993}}), 9007199254740992.).item<bool>());
  // Conversions that would be undefined throw.
  XGRAD_CHECK_THROW_MSG(scalar_tensor(std::nan("")).item<std::int64_t>(), "item: the value nan");
  XGRAD_CHECK_THROW_MSG(tensor({18446744073709551615ull}), "tensor: the value 18446744073709551615 does not fit in int64");
  XGRAD_CHECK_THROW_MSG(arange(3e9, 3e9 + 2, dtype(int32)), "arange: the value 3000000000 is out of range for int32");
  XGRAD_CHECK_THROW_MSG(linspace(std::nan(""), 1., 3, dtype(int64)), "linspace: the value nan is out of range for int64");
  XGRAD_CHECK_THROW_MSG(rand({2}, dtype(int64)), "rand: expected a floating dtype");
  XGRAD_CHECK_THROW_MSG(randn({2}, dtype(boolean)), "randn: expected a floating dtype");
  XGRAD_CHECK_THROW_MSG(zeros({2}, dtype(int32)).fill_(1e10), "fill_: the value 10000000000 cannot be represented as int32");
  XGRAD_CHECK_THROW_MSG(pad(tensor({1, 2}), {1, 1}, std::nan("")), "the value nan cannot be represented as int64");
  // A non-integral bound promotes an integer tensor (PyTorch's result_type); in place it throws.
  BOOST_CHECK((clamp(tensor({1, 2, 3}), 1.5, std::nullopt).to_vector<float>() == std::vector<float>{1.5f, 2.f, 3.f}));
  Tensor ci = tensor({1, 2, 3});
  XGRAD_CHECK_THROW_MSG(ci.clamp_(1.5, std::nullopt), "clamp_: result type of the scalar 1.5");
  // bool storage from empty() starts false; fill_ and zero_ work on masks.
  BOOST_CHECK(!any(empty({100}, dtype(boolean))).item<bool>());
  Tensor m = zeros({3}, dtype(boolean));
  m.fill_(1.0);
  BOOST_CHECK(all(m).item<bool>());
  m.zero_();
  BOOST_CHECK(!any(m).item<bool>());
}

BOOST_AUTO_TEST_CASE(printing) {
  BOOST_CHECK_EQUAL(to_string(tensor({true, false})), "tensor([True, False], dtype=bool)");
  BOOST_CHECK_EQUAL(to_string(tensor({1, -2}, dtype(int32))), "tensor([1, -2], dtype=int32)");
  BOOST_CHECK_EQUAL(to_string(tensor({1, 2})), "tensor([1, 2], dtype=int64)");
}

BOOST_AUTO_TEST_CASE(safetensors_round_trip_and_invalid_bool) {
  const std::string path = "test_dtype_tmp.safetensors";
  save_safetensors(path, {{"mask", tensor({true, false, true})}, {"ids", tensor({3, -4}, dtype(int32))}});
  const auto loaded = load_safetensors(path);
  BOOST_CHECK(loaded.tensors.at("mask").dtype() == boolean);
  BOOST_CHECK((loaded.tensors.at("mask").to_vector<bool>() == std::vector<bool>{true, false, true}));
  BOOST_CHECK((loaded.tensors.at("ids").to_vector<std::int32_t>() == std::vector<std::int32_t>{3, -4}));
  // A BOOL byte other than 0 or 1 would be an invalid C++ bool: rejected.
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const std::size_t pos = bytes.size() - 3;  // data: ids (8 bytes), then mask (3), sorted by name
  BOOST_REQUIRE_EQUAL(bytes[pos + 1], '\0');
  bytes[pos + 1] = '\x02';
  {
    std::ofstream out(path, std::ios::binary);
    out << bytes;
  }
  XGRAD_CHECK_THROW_MSG(load_safetensors(path),
                        "safetensors: tensor 'mask' of dtype BOOL has the byte 2 at element 1 (expected 0 or 1)");
  std::remove(path.c_str());
}

BOOST_AUTO_TEST_SUITE_END()
