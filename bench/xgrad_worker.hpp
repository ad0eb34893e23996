// The xgrad worker of xgrad_bench (bench/xgrad_workloads.cpp).
#pragma once

#include "bench_common.hpp"

/// Runs one workload as described by `a` (protocol in bench_common.hpp); 0 on success, 1
/// after printing `error <message>`.
int run_xgrad_worker(const bench::WorkerArgs& a);
