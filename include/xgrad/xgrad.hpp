// Everything in xgrad: autograd (Tensor, ops, engine), nn, optim and data.
#pragma once

#include "xgrad/autograd.hpp"
#include "xgrad/data.hpp"
#include "xgrad/explain.hpp"
#include "xgrad/nn.hpp"
#include "xgrad/optim.hpp"
