// Umbrella header of the nn component.
#pragma once

#include "xgrad/nn/activation.hpp"
#include "xgrad/nn/containers.hpp"
#include "xgrad/nn/conv.hpp"
#include "xgrad/nn/dropout.hpp"
#include "xgrad/nn/embedding.hpp"
#include "xgrad/nn/fold.hpp"
#include "xgrad/nn/init.hpp"
#include "xgrad/nn/layer_norm.hpp"
#include "xgrad/nn/linear.hpp"
#include "xgrad/nn/loss.hpp"
#include "xgrad/nn/module.hpp"
#include "xgrad/nn/normalization.hpp"
#include "xgrad/nn/perceptron.hpp"
#include "xgrad/nn/pooling.hpp"
#include "xgrad/nn/rnn_utils.hpp"
#include "xgrad/nn/upsampling.hpp"
