// Umbrella header of xgrad_distributed (CMake target xgrad::distributed, built when MPI is
// found; it is not part of the xgrad umbrella target, so programs without MPI are unchanged):
// data-parallel training over MPI. See each header for the details.
#pragma once

#include "xgrad/distributed/checkpoint.hpp"
#include "xgrad/distributed/collectives.hpp"
#include "xgrad/distributed/ddp.hpp"
#include "xgrad/distributed/environment.hpp"
#include "xgrad/distributed/sampler.hpp"
#include "xgrad/distributed/zero.hpp"
