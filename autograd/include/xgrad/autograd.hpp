// Umbrella header of the autograd component.
#pragma once

#include "xgrad/autograd/autograd.hpp"
#include "xgrad/autograd/dtype.hpp"
#include "xgrad/autograd/elementwise.hpp"
#include "xgrad/autograd/factories.hpp"
#include "xgrad/autograd/function.hpp"
#include "xgrad/autograd/gradcheck.hpp"
#include "xgrad/autograd/indexing.hpp"
#include "xgrad/autograd/linalg.hpp"
#include "xgrad/autograd/memory.hpp"
#include "xgrad/autograd/node.hpp"
#include "xgrad/autograd/reduction.hpp"
#include "xgrad/autograd/shape.hpp"
#include "xgrad/autograd/tensor.hpp"
#include "xgrad/autograd/threading.hpp"
