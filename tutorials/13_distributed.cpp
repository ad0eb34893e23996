// Tutorial 13: data-parallel training over MPI. Tutorial 06's MLP (784-512-256-10, ReLU, Adam
// lr 1e-3 annealed along a half cosine, global batch 128) on Fashion-MNIST, trained by R
// processes ("ranks") started by mpirun:
//
//   mpirun -np 2 ./build/tutorials/13_distributed --threads 1 --out out/13_distributed
//
// Each rank holds a full replica of the model and trains on its own shard of every global
// batch (128 / R images), chosen by a DistributedSampler; DistributedDataParallel (DDP)
// averages the gradients over the ranks during backward, so every rank applies the same update
// and the replicas stay bit-identical. The result is the training of one process on the global
// batches of 128 (up to float rounding), with the work spread over R processes, possibly on R
// machines. Hybrid parallelism: R ranks x --threads T kernel threads each.
//
// Every epoch rank 0 prints the training loss, the test loss and accuracy (the test set is
// sharded over the ranks too, the counts summed with all_reduce), the time, every rank's
// throughput (images/s) and the gradient communication per step (time, and the part of it
// hidden behind backward); a checkpoint is written by rank 0 (distributed::save_checkpoint) to
// <out>/checkpoint.safetensors. At the end every rank checks that its parameters equal rank
// 0's bit for bit, and rank 0 writes 13_metrics.csv.
//
// Rank 0 prints one line per epoch and no progress bar: mpirun forwards every rank's output
// through its own pseudo-terminal, where redrawn bars would interleave.
//
// Exit status 1 when a full run of >= 5 epochs ends below 88.5%, or when a check fails.
// --smoke trains on 512 images for 2 epochs (4 global steps each), then checks that the ranks'
// parameters are identical, that one process trained on the same global batches ends within
// 1e-4 of them, and that the checkpoint loads back (on every rank) to the same weights.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <numeric>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <sched.h>
#include <unistd.h>

#include <fmt/format.h>

#include "tutorial.hpp"
#include "xgrad/distributed/checkpoint.hpp"
#include "xgrad/distributed/collectives.hpp"
#include "xgrad/distributed/ddp.hpp"
#include "xgrad/distributed/environment.hpp"
#include "xgrad/distributed/sampler.hpp"
#include "xgrad/xgrad.hpp"

namespace data = xgrad::data;
namespace dist = xgrad::distributed;
namespace nn = xgrad::nn;
namespace optim = xgrad::optim;
using xgrad::Tensor;

namespace {

constexpr int kClasses = 10;
constexpr double kTargetAccuracy = 0.885;

/// Prints on rank 0 only: every rank computes the same numbers, one copy of the log is enough.
template <class... Args>
void say(fmt::format_string<Args...> format, Args&&... args) {
  if (dist::rank() != 0) return;
  fmt::print(format, std::forward<Args>(args)...);
  std::fflush(stdout);
}

/// Tutorial 06's model.
std::shared_ptr<nn::Sequential> make_model() {
  return std::make_shared<nn::Sequential>(std::make_shared<nn::Flatten>(),  // [B, 1, 28, 28] -> [B, 784]
                                          std::make_shared<nn::Linear>(784, 512), std::make_shared<nn::ReLU>(),
                                          std::make_shared<nn::Linear>(512, 256), std::make_shared<nn::ReLU>(),
                                          std::make_shared<nn::Linear>(256, kClasses));  // logits
}

/// The CPUs this process may run on: mpirun binds each rank to some of the machine's cores
/// (Open MPI: to one core when it starts at most 2 ranks, to a socket beyond that).
int cpus_allowed() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return CPU_COUNT(&set);
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

/// Threads of this rank's kernel pool: --threads, or else this machine's cores divided among
/// the ranks mpirun started on it (Open MPI says how many in OMPI_COMM_WORLD_LOCAL_SIZE,
/// MPICH in MPI_LOCALNRANKS) and at most the CPUs the rank is bound to, so that R ranks x T
/// threads never oversubscribe the cores.
int threads_per_rank(int requested) {
  if (requested > 0) return requested;
  int local_ranks = dist::world_size();
  for (const char* var : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"})
    if (const char* v = std::getenv(var)) local_ranks = std::max(1, std::atoi(v));
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::clamp(cores / local_ranks, 1, cpus_allowed());
}

/// One row of the per-epoch table.
struct EpochStats {
  int epoch = 0;
  double train_loss = 0, test_loss = 0, test_accuracy = 0, seconds = 0;
  std::vector<double> images_per_s;  ///< training throughput of each rank, in rank order
  double comm_ms = 0;                ///< gradient all-reduce span per step (rank 0's clock)
  double exposed_ms = 0;             ///< the part of it not hidden behind backward
};

struct RunConfig {
  std::shared_ptr<const data::Dataset> train, test;
  int epochs = 5;
  std::int64_t global_batch = 128;
  double lr = 1e-3;
  double bucket_mb = 25.0;
  std::uint64_t seed = 0;
  std::string checkpoint;
  bool verbose = true;
};

struct RunResult {
  std::shared_ptr<nn::Sequential> model;  ///< the trained replica (the module inside the DDP wrapper)
  std::shared_ptr<optim::Adam> optimizer;
  std::vector<EpochStats> history;
};

struct Evaluation {
  double loss = 0.0, accuracy = 0.0;
};

// [excerpt evaluate]
/// Test loss and accuracy over the whole test set, computed by all ranks together: rank r
/// scores images r, r + R, r + 2R, ... with its replica (all replicas are equal), then one
/// all_reduce sums the loss, the correct count and the image count over the ranks.
Evaluation evaluate(nn::Module& model, const std::shared_ptr<const data::Dataset>& test) {
  xgrad::NoGradGuard no_grad;
  model.eval();
  std::vector<std::int64_t> mine;
  for (std::int64_t i = dist::rank(); i < test->size(); i += dist::world_size()) mine.push_back(i);
  auto shard = std::make_shared<data::Subset>(test, mine);
  nn::CrossEntropyLoss criterion(nn::Reduction::Sum);
  double loss = 0.0, correct = 0.0;
  for (const data::Batch& batch : data::DataLoader(shard, data::DataLoaderOptions(1000))) {
    const Tensor logits = model(batch.data);
    loss += criterion(logits, batch.target).item<float>();
    correct += logits.argmax(1).eq(batch.target).sum().item<std::int64_t>();
  }
  Tensor totals = xgrad::from_vector(std::vector<double>{loss, correct, static_cast<double>(shard->size())}, {3});
  dist::all_reduce(totals, dist::ReduceOp::sum);  // every rank gets the sums over all ranks
  const std::vector<double> t = totals.to_vector<double>();
  model.train();
  return {t[0] / t[2], t[1] / t[2]};
}
// [end excerpt]

/// Gathers one number from every rank, in rank order (on every rank).
std::vector<double> gather(double value) {
  return dist::all_gather_into_tensor(xgrad::from_vector(std::vector<double>{value}, {1})).to_vector<double>();
}

void print_header() {
  say("{:>5}  {:>10}  {:>9}  {:>8}  {:>6}  {:>22}  {:>19}\n", "epoch", "train loss", "test loss", "test acc", "time",
      "images/s (per rank)", "all-reduce per step");
}

void print_row(const EpochStats& s) {
  std::string per_rank;
  for (double v : s.images_per_s) per_rank += fmt::format("{}{:.0f}", per_rank.empty() ? "" : " + ", v);
  // The all-reduce time per step and the part of it hidden behind backward (none with 1 rank).
  const std::string comm = s.images_per_s.size() > 1 ? fmt::format("{:5.2f} ms {:3.0f}% hidden", s.comm_ms,
                                                                   100.0 * (1.0 - s.exposed_ms / s.comm_ms))
                                                     : "-";
  say("{:5d}  {:10.4f}  {:9.4f}  {:7.2f}%  {:5.1f}s  {:>22}  {:>19}\n", s.epoch, s.train_loss, s.test_loss,
      100.0 * s.test_accuracy, s.seconds, per_rank, comm);
}

RunResult train(const RunConfig& cfg) {
  const int world = dist::world_size(), rank = dist::rank();
  RunResult result;
  // [excerpt ddp]
  // Each rank builds its own replica. The seeds differ on purpose: DDP's constructor
  // broadcasts rank 0's parameters (and buffers) to every rank, so all replicas start equal
  // whatever their own initialisation was.
  xgrad::manual_seed(cfg.seed + static_cast<std::uint64_t>(rank));
  result.model = make_model();
  auto ddp = std::make_shared<dist::DistributedDataParallel>(
      result.model, dist::DistributedDataParallelOptions().bucket_cap_mb(cfg.bucket_mb));
  // The optimizer sees the same parameters (ddp->parameters() are the module's, named
  // "module.<name>") and will apply the same averaged gradients on every rank.
  result.optimizer = std::make_shared<optim::Adam>(ddp->parameters(), optim::AdamOptions(cfg.lr));
  optim::Adam& optimizer = *result.optimizer;
  optim::CosineAnnealingLR scheduler(optimizer, cfg.epochs);

  // The global batch of 128 is split over the ranks: each takes 128 / R images per step from
  // its own shard of the training set. Same seed everywhere: the ranks agree on the epoch's
  // permutation and take disjoint positions of it; the shards are padded to equal sizes so that
  // every rank runs the same number of steps (each step is a collective).
  const std::int64_t local_batch = cfg.global_batch / world;
  auto sampler = std::make_shared<dist::DistributedSampler>(cfg.train->size(), world, rank, /*shuffle=*/true, cfg.seed);
  data::DataLoader loader(cfg.train, data::DataLoaderOptions(local_batch).sampler(sampler));
  // [end excerpt]

  if (cfg.verbose) {
    say("{} ranks x {} thread(s); global batch {} = {} x {} images per rank; {} steps per epoch\n", world,
        xgrad::get_num_threads(), cfg.global_batch, world, local_batch, loader.size());
    say("gradient buckets (bucket_cap_mb {}; filled in reverse registration order, the order backward\n"
        "produces the gradients; a bucket's all-reduce starts as soon as its last gradient arrives):\n",
        cfg.bucket_mb);
    const auto buckets = ddp->bucket_parameter_names();
    for (std::size_t b = 0; b < buckets.size(); ++b) {
      std::int64_t numel = 0;
      for (const auto& [name, p] : result.model->named_parameters())
        if (std::find(buckets[b].begin(), buckets[b].end(), name) != buckets[b].end()) numel += p.numel();
      say("  bucket {}: {:.2f} MiB  {}\n", b, 4.0 * static_cast<double>(numel) / (1 << 20),
          fmt::join(buckets[b], ", "));
    }
    say("\n");
    print_header();
  }

  nn::CrossEntropyLoss criterion;  // the mean over the local batch
  for (int epoch = 0; epoch < cfg.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    double loss_sum = 0.0, comm = 0.0, exposed = 0.0;
    std::int64_t seen = 0, step = 0;
    // [excerpt train_step]
    for (const data::Batch& batch : loader) {  // this rank's 128 / R images of the global batch
      optimizer.zero_grad();
      const Tensor loss = criterion((*ddp)(batch.data), batch.target);
      // backward() computes this rank's gradients; DDP's hooks copy them into buckets and
      // all-reduce each bucket as soon as it is full, while backward goes on with the earlier
      // layers. When backward() returns, every .grad() holds the average over the ranks.
      // Averaged, not summed: each rank's loss is the mean over its 128 / R images, so the
      // mean of the R local gradients is the gradient of the mean loss over all 128 images,
      // the very gradient one process would compute (a sum would scale the step by R).
      loss.backward();
      ddp->synchronize();  // a no-op here (every parameter got a gradient); needed otherwise
      optimizer.step();    // the same averaged gradient on every rank: the replicas stay equal
      const dist::GradSyncStats sync = ddp->last_sync_stats();
      comm += sync.communication;  // all-reduce time of this step,
      exposed += sync.exposed;     // the part of it that backward could not hide
      loss_sum += loss.item<float>() * static_cast<double>(batch.size());
      seen += batch.size();
      ++step;
    }
    // [end excerpt]
    const double train_seconds = tutorial::seconds_since(start);
    scheduler.step();

    EpochStats s;
    s.epoch = epoch + 1;
    // The mean training loss over all ranks' images, and each rank's throughput.
    Tensor sums = xgrad::from_vector(std::vector<double>{loss_sum, static_cast<double>(seen)}, {2});
    dist::all_reduce(sums);
    s.train_loss = sums.to_vector<double>()[0] / sums.to_vector<double>()[1];
    s.images_per_s = gather(static_cast<double>(seen) / train_seconds);
    s.comm_ms = 1e3 * comm / static_cast<double>(std::max<std::int64_t>(step, 1));
    s.exposed_ms = 1e3 * exposed / static_cast<double>(std::max<std::int64_t>(step, 1));
    const Evaluation ev = evaluate(*result.model, cfg.test);
    s.test_loss = ev.loss;
    s.test_accuracy = ev.accuracy;
    // [excerpt checkpoint]
    // A collective: rank 0 writes the file (atomically), every rank learns whether it worked.
    // The other ranks write nothing: their replicas and optimizer states equal rank 0's.
    dist::save_checkpoint(cfg.checkpoint, *result.model, &optimizer, {{"epoch", std::to_string(epoch + 1)}});
    // [end excerpt]
    s.seconds = tutorial::seconds_since(start);
    result.history.push_back(s);
    if (cfg.verbose) print_row(s);
  }
  return result;
}

/// True on every rank when every rank's parameters equal rank 0's bit for bit: each rank
/// receives rank 0's values by broadcast, compares, and the mismatch counts are summed.
bool replicas_identical(const nn::Module& model) {
  std::int64_t mismatched = 0;
  for (const auto& [name, p] : model.named_parameters()) {
    const Tensor mine = p.detach().contiguous();
    Tensor rank0 = mine.clone();
    dist::broadcast(rank0, 0);
    mismatched += std::memcmp(mine.data_ptr<float>(), rank0.data_ptr<float>(), sizeof(float) * mine.numel()) != 0;
  }
  Tensor total = xgrad::from_vector(std::vector<std::int64_t>{mismatched}, {1});
  dist::all_reduce(total);
  return total.item<std::int64_t>() == 0;
}

/// Largest |a - b| over the parameters of two models of the same architecture.
double max_difference(const nn::Module& a, const nn::Module& b) {
  const auto pa = a.named_parameters(), pb = b.named_parameters();
  double diff = 0.0;
  for (std::size_t i = 0; i < pa.size(); ++i)
    diff = std::max(diff, (pa[i].second.detach() - pb[i].second.detach()).abs().max().item<float>() + 0.0);
  return diff;
}

/// Tutorial 06's loop in one process, over the same global batches: a DataLoader of batch 128
/// shuffled with the same seed visits, at every step, the union of the ranks' local batches
/// (DistributedSampler deals positions r, r + R, ... of that very permutation to rank r).
std::shared_ptr<nn::Sequential> train_single_process(const RunConfig& cfg) {
  xgrad::manual_seed(cfg.seed);  // rank 0's initial weights, which DDP gave every rank
  auto model = make_model();
  optim::Adam optimizer(model->parameters(), optim::AdamOptions(cfg.lr));
  optim::CosineAnnealingLR scheduler(optimizer, cfg.epochs);
  nn::CrossEntropyLoss criterion;
  data::DataLoader loader(cfg.train, data::DataLoaderOptions(cfg.global_batch).shuffle(true).seed(cfg.seed));
  for (int epoch = 0; epoch < cfg.epochs; ++epoch) {
    for (const data::Batch& batch : loader) {
      optimizer.zero_grad();
      criterion((*model)(batch.data), batch.target).backward();
      optimizer.step();
    }
    scheduler.step();
  }
  return model;
}

void write_metrics(const std::string& path, const std::vector<EpochStats>& history) {
  std::vector<std::string> columns{"epoch", "train_loss", "test_loss", "test_accuracy", "seconds"};
  for (std::size_t r = 0; r < history.front().images_per_s.size(); ++r)
    columns.push_back(fmt::format("images_per_s_rank{}", r));
  columns.insert(columns.end(), {"allreduce_ms_per_step", "exposed_ms_per_step"});
  tutorial::Csv csv(path, columns);
  for (const EpochStats& s : history) {
    std::vector<double> row{static_cast<double>(s.epoch), s.train_loss, s.test_loss, s.test_accuracy, s.seconds};
    row.insert(row.end(), s.images_per_s.begin(), s.images_per_s.end());
    row.insert(row.end(), {s.comm_ms, s.exposed_ms});
    csv.row(row);
  }
}

int run(tutorial::Options& o, double bucket_mb) {
  const int world = dist::world_size(), rank = dist::rank();
  if (o.batch_size % world != 0)
    throw xgrad::Error(
        fmt::format("--batch-size {} (the global batch) must be divisible by the {} ranks", o.batch_size, world));
  std::filesystem::create_directories(o.out);  // on every rank: the ranks may be on different machines
  xgrad::set_num_threads(threads_per_rank(o.threads));
  say("== Tutorial 13: data-parallel training over MPI, Fashion-MNIST MLP 784-512-256-10 (seed {}{})\n", o.seed,
      o.smoke ? ", smoke run" : "");

  const auto options = data::FashionMNISTOptions().normalize();
  std::shared_ptr<const data::Dataset> train_set = std::make_shared<data::FashionMNIST>(o.data, true, options);
  std::shared_ptr<const data::Dataset> test_set = std::make_shared<data::FashionMNIST>(o.data, false, options);
  say("Fashion-MNIST from {}: {} training and {} test images (every rank loads them; each trains on its shard)\n",
      o.data, train_set->size(), test_set->size());

  RunConfig cfg;
  cfg.train = train_set;
  cfg.test = test_set;
  cfg.epochs = o.epochs;
  cfg.global_batch = o.batch_size;
  cfg.lr = o.lr;
  cfg.bucket_mb = bucket_mb;
  cfg.seed = o.seed;
  cfg.checkpoint = o.out + "/checkpoint.safetensors";
  if (o.smoke) {
    std::vector<std::int64_t> train_idx(512), test_idx(500);
    std::iota(train_idx.begin(), train_idx.end(), 0);
    std::iota(test_idx.begin(), test_idx.end(), 0);
    cfg.train = std::make_shared<data::Subset>(train_set, train_idx);
    cfg.test = std::make_shared<data::Subset>(test_set, test_idx);
    cfg.epochs = 2;
    say("smoke run: {} training images, {} test images, {} epochs\n", cfg.train->size(), cfg.test->size(), cfg.epochs);
  }

  // Who is who: every rank reports its pid, thread count and the CPUs it may use; rank 0 prints
  // them in order. More threads than CPUs would make the threads take turns on the same core.
  const std::vector<double> threads = gather(xgrad::get_num_threads());
  const std::vector<double> pids = gather(static_cast<double>(::getpid()));
  const std::vector<double> cpus = gather(cpus_allowed());
  for (int r = 0; r < world; ++r)
    say("rank {}: pid {:.0f}, kernel threads {:.0f}, may run on {:.0f} CPU(s){}\n", r, pids[r], threads[r], cpus[r],
        threads[r] > cpus[r] ? fmt::format(" -- fewer than its threads: start mpirun with --bind-to none, or "
                                           "--map-by slot:PE={:.0f} to give each rank its own cores",
                                           threads[r])
                             : "");

  const auto start = std::chrono::steady_clock::now();
  const RunResult run = train(cfg);
  const double total = tutorial::seconds_since(start);

  // [excerpt identical]
  // DDP never re-broadcasts parameters after construction: they stay equal because every rank
  // starts from rank 0's values and applies the same averaged gradient with the same
  // (deterministic) optimizer. Check it bit for bit.
  const bool identical = replicas_identical(*run.model);
  // [end excerpt]
  say("\nparameters on every rank identical to rank 0's: {}\n", identical ? "yes (bit for bit)" : "NO");
  bool ok = identical;

  const EpochStats& last = run.history.back();
  double images_per_s = 0.0;
  for (double v : last.images_per_s) images_per_s += v;
  if (rank == 0) write_metrics(o.out + "/13_metrics.csv", run.history);
  say("final test accuracy {:.2f}% after {} epochs (total {:.1f}s, {} ranks x {} thread(s), last epoch {:.0f} images/s "
      "over all ranks)\n",
      100.0 * last.test_accuracy, cfg.epochs, total, world, xgrad::get_num_threads(), images_per_s);
  say("wrote {0}/13_metrics.csv, {0}/checkpoint.safetensors\n", o.out);

  if (o.smoke) {
    // One process on the same global batches: the same training up to float rounding (the
    // averaged gradient sums the per-rank means in another order than one mean over 128).
    double difference = 0.0;
    if (rank == 0) difference = max_difference(*run.model, *train_single_process(cfg));
    difference = gather(difference)[0];
    say("largest difference to one process trained on the same global batches: {:.2e}\n", difference);
    ok = ok && difference < 1e-4;

    // Every rank loads the checkpoint (rank 0 reads the file and broadcasts its bytes) into a
    // fresh model and optimizer: the weights must be the trained ones.
    auto fresh = make_model();
    optim::Adam fresh_optimizer(fresh->parameters(), optim::AdamOptions(cfg.lr));
    const xgrad::Metadata meta = dist::load_checkpoint(cfg.checkpoint, *fresh, &fresh_optimizer);
    const double reload_diff = max_difference(*run.model, *fresh);
    const std::vector<double> diffs = gather(reload_diff);
    const bool reloaded = *std::max_element(diffs.begin(), diffs.end()) == 0.0 && meta.at("epoch") == "2";
    say("checkpoint loaded on every rank: {}\n", reloaded ? "identical weights" : "MISMATCH");
    ok = ok && reloaded && last.test_accuracy >= 0.3;
  } else if (cfg.epochs >= 5 && last.test_accuracy < kTargetAccuracy) {
    say("FAILED: test accuracy {:.2f}% < {:.1f}% after {} epochs\n", 100.0 * last.test_accuracy,
        100.0 * kTargetAccuracy, cfg.epochs);
    ok = false;
  }
  if (!ok) say("FAILED: see the checks above\n");
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  // [excerpt main]
  // MPI starts here (MPI_Init_thread) and stops when env goes out of scope (MPI_Finalize).
  // Every wait of the library has a deadline (--timeout, 60 s): a rank that waits for a peer
  // that died aborts the whole job with a message instead of hanging.
  dist::Environment env(argc, argv);
  // [end excerpt]
  tutorial::Options o;
  o.epochs = 5;
  o.batch_size = 128;
  o.lr = 1e-3;
  o.data = std::string(data::kFashionMnistDefaultRoot);
  o.out = "out/13_distributed";
  double bucket_mb = 25.0, timeout = 60.0;
  CLI::App app{"Tutorial 13: tutorial 06's MLP trained data-parallel over MPI (run it under mpirun -np R)"};
  tutorial::add_flags(app, o);
  app.get_option("--batch-size")->description("global mini-batch size, split evenly over the ranks");
  app.get_option("--threads")->description("kernel threads per rank (0 = the machine's cores / ranks on it)");
  app.add_option("--bucket-mb", bucket_mb, "DDP gradient bucket size in MiB")->capture_default_str();
  app.add_option("--timeout", timeout, "seconds a rank waits for its peers before aborting the job")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return dist::rank() == 0 ? app.exit(e) : e.get_exit_code();  // one copy of --help or of the error
  }

  try {
    dist::set_timeout(timeout);
    return run(o, bucket_mb);
  } catch (const std::exception& e) {
    // A failure on one rank must end every rank: the others may be waiting for it in a
    // collective. abort_job prints the message and calls MPI_Abort, which ends the job.
    if (dist::world_size() > 1) dist::abort_job(fmt::format("error: {}", e.what()));
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
}
