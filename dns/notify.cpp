// NOTIFY sender (RFC 1996): one UDP exchange per (secondary, zone), retried with doubling timeouts.
#include "dns/notify.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <ctime>
#include <map>
#include <random>
#include <set>

#include "dns/asio.hpp"
#include "dns/tsig.hpp"
#include "dns/wire.hpp"
#include "zones/records.hpp"

namespace vpced::dns {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::udp;

std::vector<uint8_t> make_notify(uint16_t id, std::string_view apex) {
  std::vector<uint8_t> m(kHeaderSize, 0);
  write_u16(m.data(), id);
  m[2] = static_cast<uint8_t>((kOpcodeNotify << 3) | kFlagAa);
  write_u16(m.data() + 4, 1);
  auto name = name_to_wire(apex);
  m.insert(m.end(), name.begin(), name.end());
  m.insert(m.end(), {0, static_cast<uint8_t>(kTypeSoa), 0, static_cast<uint8_t>(kClassIn)});
  return m;
}

bool is_notify_ack(std::span<const uint8_t> r, uint16_t id) {
  return r.size() >= kHeaderSize && read_u16(r.data()) == id && (r[2] & kFlagQr) && ((r[2] >> 3) & 0x0F) == kOpcodeNotify;
}

namespace {

// (view name, apex) of every zone of `after` whose content differs from `before`'s, in view and zone order.
std::vector<std::pair<std::string, std::string>> changed_zones(const zones::Snapshot* before, const zones::Snapshot& after) {
  std::map<std::pair<std::string, std::string>, std::string> old;
  if (before)
    for (uint32_t v = 0; v < before->view_count(); ++v)
      for (const auto& z : before->zones(v)) old[{before->view_name(v), z.apex}] = zones::digest_of(z);
  std::vector<std::pair<std::string, std::string>> out;
  for (uint32_t v = 0; v < after.view_count(); ++v)
    for (const auto& z : after.zones(v)) {
      auto it = old.find({after.view_name(v), z.apex});
      if (it != old.end() && it->second == zones::digest_of(z)) continue;
      out.emplace_back(after.view_name(v), z.apex);
    }
  return out;
}

std::string key_name(std::string_view name) {
  std::string s(name);
  if (!s.empty() && s.back() == '.') s.pop_back();
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

namespace {

// The apexes of `changed`, each once, in order.
std::vector<std::string> apexes_of(const std::vector<std::pair<std::string, std::string>>& changed) {
  std::set<std::string> seen;
  std::vector<std::string> out;
  for (auto& [view, apex] : changed)
    if (seen.insert(apex).second) out.push_back(apex);
  return out;
}

}  // namespace

std::vector<std::string> changed_apexes(const zones::Snapshot* before, const zones::Snapshot& after) {
  return apexes_of(changed_zones(before, after));
}

std::vector<NotifyJob> plan_notify(const zones::Snapshot* before, const zones::Snapshot& after, std::span<const TsigKey> keys) {
  if (after.model().config.transfer.secondaries.empty()) return {};  // nobody to tell: no zone comparison
  const auto changed = changed_zones(before, after);
  const auto apexes = apexes_of(changed);
  const std::string public_view = after.view_name(zones::Snapshot::kPublicView);
  std::vector<NotifyJob> jobs;
  for (const auto& s : after.model().config.transfer.secondaries) {
    if (s.key.empty()) {
      for (const auto& a : apexes) jobs.push_back({s.address, a, std::nullopt});
      continue;
    }
    const auto k = std::find_if(keys.begin(), keys.end(), [&](const TsigKey& t) { return key_name(t.name) == key_name(s.key); });
    if (k == keys.end()) continue;
    std::set<std::string> seen;
    for (const auto& [view, apex] : changed) {
      if (view != public_view && view != k->view) continue;
      if (seen.insert(apex).second) jobs.push_back({s.address, apex, *k});
    }
  }
  return jobs;
}

struct Notifier::Impl : std::enable_shared_from_this<Impl> {
  asio::io_context& ctx;
  std::function<void(std::string_view)> log;
  NotifyOptions options;
  std::mt19937 rng{std::random_device{}()};
  std::atomic<uint64_t> acked{0}, failed{0};

  Impl(asio::io_context& c, std::function<void(std::string_view)> l, NotifyOptions o)
      : ctx(c), log(std::move(l)), options(o) {}

  awaitable<void> send(zones::HostPort target, std::string apex, std::optional<TsigKey> key = std::nullopt) {
    auto self = shared_from_this();
    const uint16_t id = static_cast<uint16_t>(rng());
    auto msg = make_notify(id, apex);
    const size_t unsigned_size = msg.size();
    boost::system::error_code ec;
    udp::socket socket(ctx);
    const auto addr = asio::ip::make_address(zones::to_string(target.addr), ec);
    if (ec) co_return;
    const udp::endpoint to(addr, target.port);
    socket.open(to.protocol(), ec);
    if (ec) co_return;
    asio::steady_timer timer(ctx);
    std::array<uint8_t, 512> buf;
    unsigned timeout = options.first_timeout_ms;
    for (unsigned attempt = 1; attempt <= options.tries; ++attempt, timeout *= 2) {
      if (key) {  // signed at the time of each try, so a late retry is not outside the secondary's fudge
        msg.resize(unsigned_size);
        write_u16(msg.data() + 10, 0);
        sign_request(msg, *key, static_cast<uint64_t>(std::time(nullptr)));
      }
      socket.send_to(asio::buffer(msg), to, 0, ec);
      // Wait for an answer from the target until the timer fires (it closes the wait by cancelling).
      timer.expires_after(std::chrono::milliseconds(timeout));
      bool acked_now = false, expired = false;
      timer.async_wait([&](const boost::system::error_code& e) {
        if (!e) {
          expired = true;
          socket.cancel();
        }
      });
      while (!expired) {
        udp::endpoint from;
        size_t n = co_await socket.async_receive_from(asio::buffer(buf), from, asio::redirect_error(use_awaitable, ec));
        if (ec) break;
        if (from == to && is_notify_ack(std::span(buf.data(), n), id)) {
          acked_now = true;
          break;
        }
      }
      timer.cancel();
      if (acked_now) {
        ++acked;
        co_return;
      }
    }
    ++failed;
    if (log) log("notify: " + zones::to_string(target) + " did not acknowledge NOTIFY for " + apex + " after " +
                 std::to_string(options.tries) + " tries");
  }
};

Notifier::Notifier(asio::io_context& ctx, std::function<void(std::string_view)> log, NotifyOptions options)
    : impl_(std::make_shared<Impl>(ctx, std::move(log), options)) {}

Notifier::~Notifier() = default;

void Notifier::notify(const std::vector<zones::HostPort>& targets, const std::vector<std::string>& apexes) {
  for (const auto& t : targets)
    for (const auto& a : apexes) asio::co_spawn(impl_->ctx, impl_->send(t, a), asio::detached);
}

void Notifier::notify(const std::vector<NotifyJob>& jobs) {
  for (const auto& j : jobs) asio::co_spawn(impl_->ctx, impl_->send(j.target, j.apex, j.key), asio::detached);
}

uint64_t Notifier::acknowledged() const { return impl_->acked.load(); }
uint64_t Notifier::failed() const { return impl_->failed.load(); }

}  // namespace vpced::dns
