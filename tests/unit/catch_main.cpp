// Catch2's main, alone in its translation unit because it is slow to compile.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
