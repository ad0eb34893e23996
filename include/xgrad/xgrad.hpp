// Everything in xgrad.
#pragma once

#include "xgrad/autograd.hpp"
