// A fake Transport for verifier tests: answers from a table of (server, name, type) → response built with
// verify/message.hpp, posted to the io_context (never inside send), and logs every query it saw.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "verify/asio.hpp"
#include "verify/message.hpp"
#include "verify/transport.hpp"
#include "zones/net.hpp"

namespace vpced::verify::testing {

inline zones::HostPort hp(const std::string& s) { return *zones::parse_host_port(s, 53); }
inline zones::Ipv4 ip(const std::string& s) { return *zones::parse_ipv4(s); }

struct FakeAnswer {
  ResponseSpec spec;
  bool timeout = false;
  std::optional<std::vector<uint8_t>> raw;  // sent as is instead of a built response
};

struct SentQuery {
  std::vector<zones::HostPort> servers;
  zones::HostPort answered_by;
  Question question;
};

class FakeDns : public Transport {
 public:
  explicit FakeDns(boost::asio::io_context& ctx) : ctx_(ctx) {}

  // Answers of one server; `server` empty ("") means any server without its own entry.
  void set(const std::string& server, const std::string& name, uint16_t type, FakeAnswer a) {
    table_[{server, name, type}] = std::move(a);
  }
  void txt(const std::string& server, const std::string& name, std::vector<std::string> strings, bool aa = true) {
    FakeAnswer a;
    a.spec.aa = aa;
    a.spec.answer.push_back(txt_rr(name, strings));
    set(server, name, kTypeTxt, std::move(a));
  }
  void rcode(const std::string& server, const std::string& name, uint16_t type, uint8_t rcode) {
    FakeAnswer a;
    a.spec.rcode = rcode;
    set(server, name, type, std::move(a));
  }
  void timeout(const std::string& server, const std::string& name, uint16_t type) {
    FakeAnswer a;
    a.timeout = true;
    set(server, name, type, std::move(a));
  }
  void erase(const std::string& server, const std::string& name, uint16_t type) { table_.erase({server, name, type}); }

  void send(const std::vector<zones::HostPort>& servers, std::span<const uint8_t> query, Done done) override {
    auto q = parse_query(query);
    std::vector<uint8_t> response;
    zones::HostPort by{};
    if (q) {
      // Servers are tried in order: the first one that answers (has no timeout entry) answers.
      for (const auto& s : servers) {
        const FakeAnswer* a = find(zones::to_string(s), q->qname, q->qtype);
        if (a && a->timeout) continue;
        by = s;
        if (!a) {
          ResponseSpec nx;
          nx.rcode = kRcodeNxDomain;
          response = build_response(query, nx);
        } else if (a->raw) {
          response = *a->raw;
          if (response.size() >= 2) {  // the query's ID, so only the content is under test
            response[0] = query[0];
            response[1] = query[1];
          }
        } else {
          response = build_response(query, a->spec);
        }
        break;
      }
      sent.push_back({servers, by, *q});
      if (mutate && !response.empty()) mutate(response);
    }
    ++in_flight;
    peak_in_flight = std::max(peak_in_flight, in_flight);
    auto answer = [this, response = std::move(response), done = std::move(done)] {
      --in_flight;
      done(response);
    };
    for (const auto& suffix : hold)
      if (q && q->qname.ends_with(suffix)) {
        held_.push_back(std::move(answer));
        return;
      }
    boost::asio::post(ctx_, std::move(answer));
  }

  // Sends the answers held back (see `hold`).
  void release() {
    for (auto& a : held_) boost::asio::post(ctx_, std::move(a));
    held_.clear();
  }

  // Queries sent for `name` (any type when type is 0).
  size_t count(const std::string& name, uint16_t type = 0) const {
    size_t n = 0;
    for (const auto& s : sent)
      if (s.question.qname == name && (type == 0 || s.question.qtype == type)) ++n;
    return n;
  }

  std::function<void(std::vector<uint8_t>&)> mutate;  // applied to every response (fuzzing)
  std::vector<std::string> hold;  // answers to names ending so wait for release(): a check kept in flight
  std::vector<SentQuery> sent;
  size_t in_flight = 0;
  size_t peak_in_flight = 0;

 private:
  const FakeAnswer* find(const std::string& server, const std::string& name, uint16_t type) const {
    if (auto it = table_.find({server, name, type}); it != table_.end()) return &it->second;
    if (auto it = table_.find({"", name, type}); it != table_.end()) return &it->second;
    return nullptr;
  }

  boost::asio::io_context& ctx_;
  std::map<std::tuple<std::string, std::string, uint16_t>, FakeAnswer> table_;
  std::vector<std::function<void()>> held_;
};

}  // namespace vpced::verify::testing
