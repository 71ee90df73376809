// The one place the relay includes Boost.Asio. Boost 1.74's awaitable.hpp needs <utility> first with GCC 12.
// Only .cpp files include this; public headers forward-declare boost::asio::io_context instead.
#pragma once

#include <utility>

#include <boost/asio.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
