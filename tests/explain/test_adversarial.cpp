// Adversarial examples (explain/adversarial.hpp): FGSM exactly on a linear model (sign of the
// cross-entropy gradient), loss increase, the eps inf-norm bound and the clamp; targeted mode;
// PGD inside the L-inf and L2 balls and the valid range, stronger than FGSM on a small trained
// MLP, seeding, custom losses; the adversarial-training batch (sizes, untouched half, mode
// restored); and the error messages.
#include <cmath>

#include "test_util.hpp"
#include "xgrad/explain/adversarial.hpp"
#include "xgrad/nn/activation.hpp"
#include "xgrad/nn/containers.hpp"
#include "xgrad/nn/linear.hpp"
#include "xgrad/nn/loss.hpp"

using namespace xgrad;
namespace adv = xgrad::adversarial;
namespace F = xgrad::nn::functional;
using xgrad::test::check_close;
using xgrad::test::max_abs_diff;

namespace {

// 64 points in [0, 1]^4, label 1 inside the band |x_0 - 0.5| < 0.2 (the other coordinates are
// noise). A large eps makes FGSM overshoot: its single step carries a point just outside the
// band across it, while PGD's small steps stop inside.
struct Data {
  Tensor x, y;
};
Data make_data() {
  manual_seed(11);
  Data d;
  d.x = rand({64, 4}, dtype(float64));
  const Tensor dist = (d.x.narrow(1, 0, 1).squeeze(1) - 0.5).abs();
  d.y = dist.lt(full({64}, 0.2, dtype(float64))).to(Dtype::int64);
  return d;
}

// A 4-16-2 tanh MLP trained by full-batch gradient descent (float64).
std::shared_ptr<nn::Sequential> trained_mlp(const Data& d) {
  manual_seed(5);
  auto m = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(4, 16), std::make_shared<nn::Tanh>(),
                                            std::make_shared<nn::Linear>(16, 2));
  m->to(float64);
  for (int it = 0; it < 1500; ++it) {
    m->zero_grad();
    F::cross_entropy((*m)(d.x), d.y).backward();
    NoGradGuard ng;
    for (auto& p : m->parameters()) p.sub_(p.grad(), 1.0);
  }
  m->eval();
  return m;
}

double loss_of(nn::Module& m, const Tensor& x, const Tensor& y) {
  NoGradGuard ng;
  return F::cross_entropy(m(x), y).item<double>();
}

double linf(const Tensor& a, const Tensor& b) { return max_abs_diff(a, b); }

}  // namespace

BOOST_AUTO_TEST_SUITE(explain_adversarial)

BOOST_AUTO_TEST_CASE(fgsm_linear_exact) {
  // Linear logits z = x W^T: dCE/dx = (softmax(z) - onehot(y)) W, taken here by a plain backward.
  auto lin = std::make_shared<nn::Linear>(3, 2, false);
  lin->to(float64);
  {
    NoGradGuard ng;
    lin->weight.copy_(tensor({{1.0, -1.0, 0.5}, {-0.5, 2.0, 0.0}}, dtype(float64)));
  }
  const Tensor x = tensor({{0.5, 0.02, 0.99}, {0.3, 0.6, 0.1}}, dtype(float64));
  const Tensor y = tensor({0, 1}, dtype(Dtype::int64));
  Tensor xi = x.detach();
  xi.requires_grad_(true);
  F::cross_entropy((*lin)(xi), y).backward();
  const double eps = 0.05;
  const Tensor want = (x + xi.grad().sign() * eps).clamp(0.0, 1.0);
  const Tensor got = adv::fgsm(*lin, x, y, adv::FGSMOptions().eps(eps));
  check_close(got, want, 1e-15);
  BOOST_CHECK(!got.requires_grad());
  // Clamped at both ends: 0.99 + 0.05 -> 1 and 0.02 - 0.05 -> 0 where the sign says so.
  BOOST_CHECK_LE(got.max().item<double>(), 1.0);
  BOOST_CHECK_GE(got.min().item<double>(), 0.0);
  BOOST_CHECK_GT(loss_of(*lin, got, y), loss_of(*lin, x, y));
  // Targeted toward the other class: x - eps sign(dL(x, y_t)/dx) lowers that loss.
  const Tensor yt = tensor({1, 0}, dtype(Dtype::int64));
  const Tensor gt = adv::fgsm(*lin, x, yt, adv::FGSMOptions().eps(eps).targeted(true));
  BOOST_CHECK_LT(loss_of(*lin, gt, yt), loss_of(*lin, x, yt));
  // eps = 0 changes nothing.
  check_close(adv::fgsm(*lin, x, y, adv::FGSMOptions().eps(0.0)), x, 0.0);
}

BOOST_AUTO_TEST_CASE(fgsm_and_pgd_on_a_trained_mlp) {
  const Data d = make_data();
  auto m = trained_mlp(d);
  const double clean = loss_of(*m, d.x, d.y);
  BOOST_TEST_MESSAGE("clean loss " << clean);
  BOOST_CHECK_LT(clean, 0.3);  // the model has learned the band
  for (auto& p : m->parameters()) p.set_grad(Tensor());
  const double eps = 0.25;
  const Tensor xf = adv::fgsm(*m, d.x, d.y, adv::FGSMOptions().eps(eps));
  BOOST_CHECK_LE(linf(xf, d.x), eps + 1e-12);
  const double lf = loss_of(*m, xf, d.y);
  BOOST_CHECK_GT(lf, clean);
  const auto po = adv::PGDOptions().eps(eps).alpha(eps / 4).steps(20).random_start(false);
  const Tensor xp = adv::pgd(*m, d.x, d.y, po);
  BOOST_CHECK_LE(linf(xp, d.x), eps + 1e-12);
  const double lp = loss_of(*m, xp, d.y);
  BOOST_TEST_MESSAGE("FGSM loss " << lf << ", PGD loss " << lp);
  BOOST_CHECK_GT(lp, lf);
  // No parameter gradient was written by the attacks.
  for (const auto& p : m->parameters()) BOOST_CHECK(!p.grad().defined());
  // L2: inside the ball per sample, raises the loss.
  const auto o2 = adv::PGDOptions().norm(adv::Norm::L2).eps(0.3).alpha(0.1).steps(10);
  const Tensor x2 = adv::pgd(*m, d.x, d.y, o2);
  const auto norms = (x2 - d.x).norm(2.0, std::vector<std::int64_t>{1}).to_vector<double>();
  for (double v : norms) BOOST_CHECK_LE(v, 0.3 + 1e-9);
  BOOST_CHECK_GT(loss_of(*m, x2, d.y), clean);
  // Seeded random start: reproducible; another seed differs.
  BOOST_CHECK_EQUAL(max_abs_diff(x2, adv::pgd(*m, d.x, d.y, o2)), 0.0);
  BOOST_CHECK_GT(max_abs_diff(x2, adv::pgd(*m, d.x, d.y, adv::PGDOptions(o2).seed(9))), 0.0);
  // A user loss equal to cross-entropy gives the same attack.
  auto ce = [](const Tensor& z, const Tensor& y) { return F::nll_loss(F::log_softmax(z, 1), y); };
  check_close(adv::pgd(*m, d.x, d.y, adv::PGDOptions(po).loss(ce)), xp, 1e-12);
}

BOOST_AUTO_TEST_CASE(pgd_stays_in_the_balls_and_the_range) {
  // Inputs at the edges of [0, 1] and a large step: every iterate is projected and clamped.
  manual_seed(3);
  auto m = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(6, 5), std::make_shared<nn::Tanh>(),
                                            std::make_shared<nn::Linear>(5, 3));
  const Tensor x = rand({8, 6}).round();  // zeros and ones
  const Tensor y = randint(0, 3, {8});
  for (bool rs : {false, true}) {
    const Tensor a = adv::pgd(*m, x, y, adv::PGDOptions().eps(0.2).alpha(0.15).steps(5).random_start(rs));
    BOOST_CHECK_LE(linf(a, x), 0.2 + 1e-6);
    BOOST_CHECK_GE(a.min().item<double>(), 0.0);
    BOOST_CHECK_LE(a.max().item<double>(), 1.0);
    const Tensor b =
        adv::pgd(*m, x, y, adv::PGDOptions().norm(adv::Norm::L2).eps(0.5).alpha(0.4).steps(5).random_start(rs));
    for (double v : (b - x).norm(2.0, std::vector<std::int64_t>{1}).to_vector<float>()) BOOST_CHECK_LE(v, 0.5 + 1e-5);
    BOOST_CHECK_GE(b.min().item<double>(), 0.0);
    BOOST_CHECK_LE(b.max().item<double>(), 1.0);
    BOOST_CHECK(b.dtype() == Dtype::float32 && b.shape() == x.shape());
  }
  // Targeted PGD lowers the loss of the target class.
  std::vector<std::int64_t> tv = y.to_vector<std::int64_t>();
  for (auto& v : tv) v = (v + 1) % 3;
  const Tensor yt = from_vector(tv, {8});
  const Tensor at = adv::pgd(*m, x, yt, adv::PGDOptions().eps(0.3).alpha(0.05).steps(10).targeted(true));
  BOOST_CHECK_LT(loss_of(*m, at, yt), loss_of(*m, x, yt));
}

BOOST_AUTO_TEST_CASE(adversarial_training_batch) {
  const Data d = make_data();
  auto m = trained_mlp(d);
  m->train();
  const Tensor x = d.x.narrow(0, 0, 10), y = d.y.narrow(0, 0, 10);
  const auto pgd = adv::PGDOptions().eps(0.1).alpha(0.05).steps(3);
  const Tensor mixed = adv::adversarial_training_batch(*m, x, y, adv::AdversarialTrainingOptions().pgd(pgd));
  BOOST_REQUIRE(mixed.shape() == x.shape());
  BOOST_CHECK(m->is_training());  // restored after the attack (run in eval mode)
  // The first round(0.5 * 10) = 5 rows are the PGD examples, the other 5 are x unchanged.
  check_close(mixed.narrow(0, 0, 5), adv::pgd(*m, x.narrow(0, 0, 5), y.narrow(0, 0, 5), pgd), 0.0);
  check_close(mixed.narrow(0, 5, 5), x.narrow(0, 5, 5), 0.0);
  for (std::int64_t i = 0; i < 5; ++i) BOOST_CHECK_GT(max_abs_diff(mixed.select(0, i), x.select(0, i)), 0.0);
  BOOST_CHECK(!mixed.requires_grad());
  // fraction 0.3 of 10 -> 3 rows; 0 -> x; 1 -> all.
  const Tensor m3 = adv::adversarial_training_batch(*m, x, y, adv::AdversarialTrainingOptions().fraction(0.3).pgd(pgd));
  check_close(m3.narrow(0, 3, 7), x.narrow(0, 3, 7), 0.0);
  BOOST_CHECK_GT(max_abs_diff(m3.narrow(0, 2, 1), x.narrow(0, 2, 1)), 0.0);
  check_close(adv::adversarial_training_batch(*m, x, y, adv::AdversarialTrainingOptions().fraction(0.0)), x, 0.0);
  const Tensor all =
      adv::adversarial_training_batch(*m, x, y, adv::AdversarialTrainingOptions().fraction(1.0).pgd(pgd));
  check_close(all, adv::pgd(*m, x, y, pgd), 0.0);
}

BOOST_AUTO_TEST_CASE(errors) {
  auto m = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(4, 3));
  const Tensor x = rand({2, 4});
  const Tensor y = tensor({0, 2}, dtype(Dtype::int64));
  XGRAD_CHECK_THROW_MSG(adv::fgsm(*m, x, y, adv::FGSMOptions().eps(-0.1)), "fgsm: eps must be >= 0, got -0.1");
  XGRAD_CHECK_THROW_MSG(adv::fgsm(*m, x, y, adv::FGSMOptions().clip_min(1).clip_max(0)),
                        "fgsm: clip_min (1) must be <= clip_max (0)");
  XGRAD_CHECK_THROW_MSG(adv::fgsm(*m, x, tensor({0, 3}, dtype(Dtype::int64))),
                        "fgsm: labels index 3 of sample 1 is out of range for 3 classes");
  XGRAD_CHECK_THROW_MSG(adv::fgsm(*m, x, tensor({0}, dtype(Dtype::int64))), "fgsm: labels must have shape [2]");
  XGRAD_CHECK_THROW_MSG(adv::fgsm(*m, x, Tensor()), "fgsm: labels are undefined");
  XGRAD_CHECK_THROW_MSG(adv::fgsm(*m, tensor({1.0, 2.0}), y), "fgsm: input must be a batch [N, ...] of rank >= 2");
  XGRAD_CHECK_THROW_MSG(adv::fgsm(*m, x, y, adv::FGSMOptions().loss([](const Tensor& z, const Tensor&) { return z; })),
                        "fgsm: the loss must return a scalar, got");
  XGRAD_CHECK_THROW_MSG(adv::pgd(*m, x, y, adv::PGDOptions().steps(0)), "pgd: steps must be >= 1, got 0");
  XGRAD_CHECK_THROW_MSG(adv::pgd(*m, x, y, adv::PGDOptions().eps(-1)), "pgd: eps must be >= 0, got -1");
  XGRAD_CHECK_THROW_MSG(adv::pgd(*m, x, y, adv::PGDOptions().alpha(0)), "pgd: alpha (step size) must be > 0, got 0");
  XGRAD_CHECK_THROW_MSG(adv::adversarial_training_batch(*m, x, y, adv::AdversarialTrainingOptions().fraction(1.5)),
                        "adversarial_training_batch: fraction must be in [0, 1], got 1.5");
  m->train();
  XGRAD_CHECK_THROW_MSG(
      adv::adversarial_training_batch(*m, x, y, adv::AdversarialTrainingOptions().pgd(adv::PGDOptions().steps(0))),
      "pgd: steps must be >= 1");
  BOOST_CHECK(m->is_training());  // restored on the error path too
}

BOOST_AUTO_TEST_SUITE_END()
