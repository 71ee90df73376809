// The one place verify/ includes Boost.Asio (only .cpp files include this). Boost 1.74's headers need
// <utility> first with GCC 12.
#pragma once

#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
