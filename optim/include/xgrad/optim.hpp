// xgrad::optim: optimizers, learning-rate schedulers and gradient clipping.
#pragma once

#include "xgrad/optim/adadelta.hpp"
#include "xgrad/optim/adagrad.hpp"
#include "xgrad/optim/adam.hpp"
#include "xgrad/optim/adamax.hpp"
#include "xgrad/optim/asgd.hpp"
#include "xgrad/optim/clip_grad.hpp"
#include "xgrad/optim/functional.hpp"
#include "xgrad/optim/lbfgs.hpp"
#include "xgrad/optim/lr_scheduler.hpp"
#include "xgrad/optim/meta.hpp"
#include "xgrad/optim/nadam.hpp"
#include "xgrad/optim/optimizer.hpp"
#include "xgrad/optim/radam.hpp"
#include "xgrad/optim/rmsprop.hpp"
#include "xgrad/optim/rprop.hpp"
#include "xgrad/optim/sgd.hpp"
