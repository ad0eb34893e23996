// Shared entry point of every Boost.Test executable (the module name is set per executable).
#define BOOST_TEST_MODULE xgrad
#include <boost/test/unit_test.hpp>
