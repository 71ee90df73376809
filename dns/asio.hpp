// The one place Boost.Asio is included. Boost 1.74's awaitable.hpp needs <utility> first with GCC 12.
// Only .cpp files include this; Asio is slow to compile, keep it out of widely included headers.
#pragma once

#include <utility>

#include <boost/asio.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
