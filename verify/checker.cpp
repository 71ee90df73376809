// One check of one target: server discovery, TXT queries, classification, hints.
#include "verify/checker.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <tuple>

#include "verify/candidates.hpp"
#include "verify/message.hpp"
#include "verify/txt_check.hpp"
#include "zones/naming.hpp"

namespace vpced::verify {

using zones::HostPort;

std::string_view to_string(Outcome o) {
  switch (o) {
    case Outcome::Match: return "match";
    case Outcome::Different: return "different value";
    case Outcome::NoData: return "NODATA (the name exists, no TXT)";
    case Outcome::NxDomain: return "NXDOMAIN";
    case Outcome::Timeout: return "timeout";
    case Outcome::ServFail: return "SERVFAIL";
    case Outcome::Refused: return "REFUSED";
    case Outcome::OtherRcode: return "error";
    case Outcome::NotAuthoritative: return "not authoritative (AA=0)";
    case Outcome::Truncated: return "truncated (TC=1)";
    case Outcome::Malformed: return "malformed answer";
    case Outcome::Cname: return "CNAME";
    case Outcome::CnameChain: return "CNAME chain";
    case Outcome::NameTooLong: return "name too long";
    case Outcome::NoServers: return "no servers to ask";
  }
  return "unknown";
}

namespace {

// The short word kept in the state file's details.
std::string_view result_word(Outcome o) {
  switch (o) {
    case Outcome::Match: return "match";
    case Outcome::Different: return "different";
    case Outcome::NoData: return "NODATA";
    case Outcome::NxDomain: return "NXDOMAIN";
    case Outcome::Timeout: return "timeout";
    case Outcome::ServFail: return "SERVFAIL";
    case Outcome::Refused: return "REFUSED";
    case Outcome::OtherRcode: return "error";
    case Outcome::NotAuthoritative: return "not-authoritative";
    case Outcome::Truncated: return "truncated";
    case Outcome::Malformed: return "malformed";
    case Outcome::Cname: return "CNAME";
    case Outcome::CnameChain: return "CNAME-chain";
    case Outcome::NameTooLong: return "name-too-long";
    case Outcome::NoServers: return "no-servers";
  }
  return "unknown";
}

std::string rcode_name(uint8_t rcode) {
  switch (rcode) {
    case kRcodeFormErr: return "FORMERR";
    case kRcodeNotImp: return "NOTIMP";
    default: return "RCODE " + std::to_string(rcode);
  }
}

struct Server {
  std::string label;
  std::vector<HostPort> addrs;
};

struct ServerSet {
  bool rd = false;
  bool need_aa = false;  // authoritative servers asked directly must say so
  std::vector<Server> servers;
  std::string error;     // why there are no servers
};

struct QueryResult {
  enum class Kind { Answer, Timeout, Malformed, NameTooLong } kind = Kind::Timeout;
  ParseResult parse = ParseResult::Ok;
  Response resp;
};

std::string describe_failure(const QueryResult& r) {
  switch (r.kind) {
    case QueryResult::Kind::Timeout: return "timeout";
    case QueryResult::Kind::Malformed: return "malformed answer: " + std::string(to_string(r.parse));
    case QueryResult::Kind::NameTooLong: return "name too long";
    case QueryResult::Kind::Answer: break;
  }
  if (r.resp.tc) return "truncated (TC=1)";
  switch (r.resp.rcode) {
    case kRcodeNoError: return "NOERROR";
    case kRcodeNxDomain: return "NXDOMAIN";
    case kRcodeServFail: return "SERVFAIL";
    case kRcodeRefused: return "REFUSED";
    default: return rcode_name(r.resp.rcode);
  }
}

struct ZoneInfo {
  std::string zone;
  std::vector<std::string> ns;
  std::string error;
};

// What one TXT answer says about `qname`; Match/Different are decided by the caller from `txt`.
struct Classified {
  Outcome outcome = Outcome::Timeout;
  bool has_txt = false;
  std::vector<TxtRecord> txt;
  std::string follow;  // a CNAME target whose data the answer lacks
  std::string note;
};

Classified classify_txt(const QueryResult& r, const std::string& qname, bool need_aa) {
  Classified c;
  switch (r.kind) {
    case QueryResult::Kind::Timeout: c.outcome = Outcome::Timeout; return c;
    case QueryResult::Kind::NameTooLong: c.outcome = Outcome::NameTooLong; c.note = "longer than 255 octets"; return c;
    case QueryResult::Kind::Malformed:
      c.outcome = Outcome::Malformed;
      c.note = std::string(to_string(r.parse));
      return c;
    case QueryResult::Kind::Answer: break;
  }
  const Response& resp = r.resp;
  if (resp.tc) {
    c.outcome = Outcome::Truncated;
    return c;
  }
  const NameRecord* cname = nullptr;
  for (const auto& n : resp.cname)
    if (n.owner == qname) {
      cname = &n;
      break;
    }
  switch (resp.rcode) {
    case kRcodeNoError: break;
    case kRcodeNxDomain:
      c.outcome = Outcome::NxDomain;
      if (cname) c.note = "via CNAME → " + cname->target;
      return c;
    case kRcodeServFail: c.outcome = Outcome::ServFail; return c;
    case kRcodeRefused: c.outcome = Outcome::Refused; return c;
    default:
      c.outcome = Outcome::OtherRcode;
      c.note = rcode_name(resp.rcode);
      return c;
  }
  if (need_aa && !resp.aa) {
    c.outcome = Outcome::NotAuthoritative;
    c.note = resp.authority_ns.empty() ? "the server does not hold the zone (lame delegation?)"
                                       : "referral to " + resp.authority_ns.front().owner +
                                             ": the server does not hold that zone";
    return c;
  }
  std::string_view owner = qname;
  if (cname) {
    owner = cname->target;
    c.note = "via CNAME → " + cname->target;
    const bool target_has_txt =
        std::any_of(resp.txt.begin(), resp.txt.end(), [&](const TxtRecord& t) { return t.owner == owner; });
    const bool target_is_cname =
        std::any_of(resp.cname.begin(), resp.cname.end(), [&](const NameRecord& n) { return n.owner == owner; });
    if (!target_has_txt && target_is_cname) {
      c.outcome = Outcome::CnameChain;
      c.note = "CNAME → " + cname->target + " → another CNAME: vpced follows one CNAME only";
      return c;
    }
    if (!target_has_txt) {
      c.outcome = Outcome::Cname;
      c.follow = cname->target;
      c.note = "CNAME → " + cname->target + " (asked separately)";
      return c;
    }
  }
  for (const auto& t : resp.txt)
    if (t.owner == owner) c.txt.push_back(t);
  c.has_txt = !c.txt.empty();
  c.outcome = c.has_txt ? Outcome::Different : Outcome::NoData;
  return c;
}

template <class T>
struct Memo {
  bool ready = false;
  T value{};
  std::vector<std::function<void(const T&)>> waiters;
};

// Lines sort by candidate, then by the order their queries were planned.
struct OrderedLine {
  size_t candidate;
  size_t server;
  size_t sub;
  ReportLine line;
};

class CheckRun : public std::enable_shared_from_this<CheckRun> {
 public:
  CheckRun(Transport& transport, Target target, zones::VerifyConfig config, CheckDone done)
      : transport_(transport), target_(std::move(target)), config_(std::move(config)), done_(std::move(done)) {}

  void start() {
    const auto domains = candidate_domains(target_.private_dns_name);
    if (domains.empty()) {
      report_.notes.push_back("the private DNS name " + target_.private_dns_name + " has no candidate domain");
      finish();
      return;
    }
    for (const auto& d : domains) cands_.push_back(Candidate{d, {}, {}, false});
    hold();
    for (size_t i = 0; i < cands_.size(); ++i) check_candidate(i);
    release();
  }

 private:
  struct Candidate {
    std::string domain;
    ServerSet set;
    std::vector<char> served;  // per server of `set`
    bool resolved = false;
  };

  std::string record_name(size_t i) const { return target_.token.name + "." + cands_[i].domain; }

  void hold() { ++outstanding_; }
  void release() {
    if (--outstanding_ == 0) phase_done();
  }

  template <class T, class Start>
  void memoized(std::map<std::string, Memo<T>>& memo, const std::string& key, std::function<void(const T&)> cb,
                Start start) {
    auto [it, inserted] = memo.try_emplace(key);
    Memo<T>& m = it->second;
    if (m.ready) {
      cb(m.value);
      return;
    }
    m.waiters.push_back(std::move(cb));
    if (!inserted) return;
    start([self = shared_from_this(), &memo, key](const T& value) {
      Memo<T>& m = memo.at(key);
      m.ready = true;
      m.value = value;
      auto waiters = std::move(m.waiters);
      m.waiters.clear();
      for (auto& w : waiters) w(m.value);
    });
  }

  void query(const std::vector<HostPort>& servers, const std::string& qname, uint16_t qtype, bool rd,
             std::function<void(const QueryResult&)> cb) {
    const auto id = static_cast<uint16_t>(zones::random_below(65536));
    auto q = build_query(id, qname, qtype, rd);
    if (!q) {
      QueryResult r;
      r.kind = QueryResult::Kind::NameTooLong;
      cb(r);
      return;
    }
    ++report_.queries;
    transport_.send(servers, *q,
                    [self = shared_from_this(), id, qname, qtype, cb = std::move(cb)](std::span<const uint8_t> bytes) {
                      QueryResult r;
                      if (bytes.empty()) {
                        r.kind = QueryResult::Kind::Timeout;
                      } else {
                        r.parse = parse_response(bytes, Expected{id, qname, qtype}, r.resp);
                        r.kind = r.parse == ParseResult::Ok ? QueryResult::Kind::Answer : QueryResult::Kind::Malformed;
                      }
                      cb(r);
                    });
  }

  void note(std::string text) {
    if (notes_seen_.insert(text).second) report_.notes.push_back(std::move(text));
  }
  void hint(std::string text) {
    if (std::find(report_.hints.begin(), report_.hints.end(), text) == report_.hints.end())
      report_.hints.push_back(std::move(text));
  }

  std::string resolvers_label() const {
    std::string s = config_.resolvers.size() == 1 ? "resolver " : "resolvers ";
    for (size_t i = 0; i < config_.resolvers.size(); ++i) s += (i ? ", " : "") + zones::to_string(config_.resolvers[i]);
    return s;
  }

  // --- Finding the servers of a domain --------------------------------------------------------------------

  void servers_for(const std::string& domain, std::function<void(const ServerSet&)> cb) {
    memoized<ServerSet>(server_memo_, domain, std::move(cb), [this, domain](auto complete) {
      // A pin on the domain or its closest pinned ancestor wins, in both modes: it is the operator's word.
      const std::string* key = nullptr;
      for (const auto& [k, _] : config_.nameservers)
        if (is_at_or_below(domain, k) && (!key || k.size() > key->size())) key = &k;
      if (key) {
        ServerSet ss;
        ss.need_aa = true;  // pinned servers are the domain's own: asked with RD=0, they must answer with AA=1
        for (const auto& hp : config_.nameservers.at(*key)) ss.servers.push_back({zones::to_string(hp) + " (pinned)", {hp}});
        std::string list;
        for (const auto& s : ss.servers) list += (list.empty() ? "" : ", ") + zones::to_string(s.addrs.front());
        note("servers of " + domain + ": pinned by verify.nameservers \"" + *key + "\": " + list);
        complete(ss);
        return;
      }
      if (config_.resolvers.empty()) {
        ServerSet ss;
        ss.error = config_.mode == zones::VerifyMode::Recursive
                       ? "verify.resolvers is empty: recursive mode has nobody to ask"
                       : "cannot find the servers of " + domain +
                             ": verify.resolvers is empty (set it, or pin the domain in verify.nameservers)";
        complete(ss);
        return;
      }
      if (config_.mode == zones::VerifyMode::Recursive) {
        ServerSet ss;
        ss.rd = true;
        ss.servers.push_back({resolvers_label(), config_.resolvers});
        complete(ss);
        return;
      }
      find_zone(domain, [this, domain, complete](const ZoneInfo& zi) {
        if (!zi.error.empty()) {
          ServerSet ss;
          ss.error = zi.error;
          complete(ss);
          return;
        }
        resolve_servers(zi, complete);
      });
    });
  }

  // The closest enclosing zone of `domain`, asking the resolvers for NS (RD=1). A negative answer's SOA
  // names the zone directly; without one, the parent is tried, up to the top-level domain.
  void find_zone(const std::string& domain, std::function<void(const ZoneInfo&)> cb) {
    memoized<ZoneInfo>(zone_memo_, domain, std::move(cb), [this, domain](auto complete) {
      query(config_.resolvers, domain, kTypeNs, true, [this, domain, complete](const QueryResult& r) {
        if (r.kind != QueryResult::Kind::Answer || r.resp.tc ||
            (r.resp.rcode != kRcodeNoError && r.resp.rcode != kRcodeNxDomain)) {
          complete(ZoneInfo{{}, {}, "NS " + domain + " via " + resolvers_label() + ": " + describe_failure(r)});
          return;
        }
        ZoneInfo zi;
        for (const auto& n : r.resp.ns)
          if (n.owner == domain && std::find(zi.ns.begin(), zi.ns.end(), n.target) == zi.ns.end())
            zi.ns.push_back(n.target);
        if (!zi.ns.empty()) {
          zi.zone = domain;
          complete(zi);
          return;
        }
        std::string next;
        for (const auto& s : r.resp.soa)
          if (s != domain && !s.empty() && is_at_or_below(domain, s) && s.size() > next.size()) next = s;
        if (next.empty()) next = std::string(parent_domain(domain));
        if (next.empty()) {
          complete(ZoneInfo{{}, {}, "no zone found above " + domain + " (NS queries via " + resolvers_label() + ")"});
          return;
        }
        find_zone(next, complete);
      });
    });
  }

  // The IPv4 addresses of the zone's NS names, through the resolvers; each address is one server.
  void resolve_servers(const ZoneInfo& zi, std::function<void(const ServerSet&)> complete) {
    std::vector<std::string> names = zi.ns;
    std::sort(names.begin(), names.end());
    if (names.empty()) {
      ServerSet ss;
      ss.error = "zone " + zi.zone + " has no NS names";
      complete(ss);
      return;
    }
    std::string extra;
    if (names.size() > kMaxNsNames) {
      extra = "; " + std::to_string(names.size() - kMaxNsNames) + " more NS names not asked";
      names.resize(kMaxNsNames);
    }
    struct Gather {
      size_t left;
      std::vector<std::vector<zones::Ipv4>> addrs;
      std::vector<std::string> errors;
    };
    auto g = std::make_shared<Gather>(Gather{names.size(), std::vector<std::vector<zones::Ipv4>>(names.size()),
                                             std::vector<std::string>(names.size())});
    auto done_one = [this, g, names, zi, extra, complete]() {
      if (--g->left) return;
      ServerSet ss;
      std::set<zones::Ipv4> seen;
      std::string summary;
      for (size_t i = 0; i < names.size(); ++i) {
        summary += (i ? "; " : "") + names[i] + " → ";
        if (g->addrs[i].empty()) summary += g->errors[i].empty() ? "no IPv4 address" : g->errors[i];
        for (size_t k = 0; k < g->addrs[i].size(); ++k) {
          const HostPort hp{zones::IpAddr::from_v4(g->addrs[i][k]), 53};
          summary += (k ? ", " : "") + zones::to_string(hp);
          if (!seen.insert(g->addrs[i][k]).second) continue;
          if (ss.servers.size() >= kMaxServersPerZone) continue;
          ss.servers.push_back({zones::to_string(hp) + " (" + names[i] + ")", {hp}});
        }
      }
      note("servers of zone " + zi.zone + " (NS via " + resolvers_label() + "): " + summary + extra);
      if (ss.servers.empty()) ss.error = "none of the NS names of zone " + zi.zone + " has an IPv4 address";
      ss.need_aa = true;
      complete(ss);
    };
    for (size_t i = 0; i < names.size(); ++i) {
      memoized<QueryResult>(addr_memo_, names[i],
                            [g, i, done_one](const QueryResult& r) {
                              if (r.kind == QueryResult::Kind::Answer && r.resp.rcode == kRcodeNoError) {
                                for (const auto& a : r.resp.a)
                                  if (g->addrs[i].size() < kMaxAddressesPerNs) g->addrs[i].push_back(a.address);
                                if (g->addrs[i].empty()) g->errors[i] = "no IPv4 address (NODATA)";
                              } else {
                                g->errors[i] = "no IPv4 address (" + describe_failure(r) + ")";
                              }
                              done_one();
                            },
                            [this, name = names[i]](auto complete) {
                              query(config_.resolvers, name, kTypeA, true, complete);
                            });
    }
  }

  // --- Asking for the record ------------------------------------------------------------------------------

  void add_line(size_t cand, size_t server, size_t sub, ReportLine line) {
    lines_.push_back(OrderedLine{cand, server, sub, std::move(line)});
  }

  void check_candidate(size_t i) {
    hold();
    servers_for(cands_[i].domain, [this, i](const ServerSet& ss) {
      Candidate& c = cands_[i];
      c.set = ss;
      c.resolved = true;
      c.served.assign(ss.servers.size(), 0);
      if (!ss.error.empty()) add_line(i, 0, 0, ReportLine{c.domain, record_name(i), "-", Outcome::NoServers, {}, ss.error});
      for (size_t j = 0; j < ss.servers.size(); ++j) ask(i, j);
      release();
    });
  }

  void ask(size_t i, size_t j) {
    hold();
    const std::string record = record_name(i);
    const ServerSet& ss = cands_[i].set;
    query(ss.servers[j].addrs, record, kTypeTxt, ss.rd, [this, i, j, record](const QueryResult& r) {
      Candidate& c = cands_[i];
      Classified k = classify_txt(r, record, c.set.need_aa);
      ReportLine line{c.domain, record, c.set.servers[j].label, k.outcome, {}, k.note};
      if (k.has_txt) {
        Verdict v = check_txt(target_.token, k.txt);
        line.outcome = v.matched ? Outcome::Match : Outcome::Different;
        line.values = v.values;
        c.served[j] = v.matched;
        for (const auto& h : v.hints) hint("TXT " + record + ": " + h);
      }
      add_line(i, j, 0, std::move(line));
      if (!k.follow.empty()) {
        hold();
        follow_cname(k.follow, i, j, [this, i, j](bool ok) {
          cands_[i].served[j] = ok;
          release();
        });
      }
      release();
    });
  }

  // One CNAME hop: the target counts when every server of the target's zone serves the value.
  void follow_cname(const std::string& target, size_t cand, size_t server, std::function<void(bool)> cb) {
    memoized<char>(follow_memo_, target, [cb](const char& ok) { cb(ok); },
                   [this, target, cand, server](auto complete) {
                     servers_for(target, [this, target, cand, server, complete](const ServerSet& ss) {
                       if (!ss.error.empty()) {
                         add_line(cand, server, 1,
                                  ReportLine{cands_[cand].domain, target, "-", Outcome::NoServers, {}, ss.error});
                         complete(0);
                         return;
                       }
                       struct Gather {
                         size_t left;
                         bool all = true;
                       };
                       auto g = std::make_shared<Gather>(Gather{ss.servers.size(), true});
                       for (size_t k = 0; k < ss.servers.size(); ++k) {
                         query(ss.servers[k].addrs, target, kTypeTxt, ss.rd,
                               [this, g, ss, k, target, cand, server, complete](const QueryResult& r) {
                                 Classified c = classify_txt(r, target, ss.need_aa);
                                 if (!c.follow.empty()) {
                                   c.outcome = Outcome::CnameChain;
                                   c.note = "CNAME → " + c.follow + ": vpced follows one CNAME only";
                                 }
                                 ReportLine line{cands_[cand].domain, target, ss.servers[k].label, c.outcome, {},
                                                 "CNAME target" + (c.note.empty() ? "" : "; " + c.note)};
                                 bool ok = false;
                                 if (c.has_txt) {
                                   Verdict v = check_txt(target_.token, c.txt);
                                   ok = v.matched;
                                   line.outcome = ok ? Outcome::Match : Outcome::Different;
                                   line.values = v.values;
                                   for (const auto& h : v.hints) hint("TXT " + target + ": " + h);
                                 }
                                 g->all = g->all && ok;
                                 add_line(cand, server, 1 + k, std::move(line));
                                 if (--g->left == 0) complete(g->all ? 1 : 0);
                               });
                       }
                     });
                   });
  }

  // --- Explaining a miss ----------------------------------------------------------------------------------

  // The bare candidate: AWS accepts the value there as a fallback; vpced does not, and says so.
  void explain_bare(size_t i) {
    const Candidate& c = cands_[i];
    for (size_t j = 0; j < c.set.servers.size(); ++j) {
      hold();
      query(c.set.servers[j].addrs, c.domain, kTypeTxt, c.set.rd, [this, i](const QueryResult& r) {
        const Candidate& c = cands_[i];
        Classified k = classify_txt(r, c.domain, c.set.need_aa);
        const std::string where = i == 0 ? c.domain + " (the private DNS name itself" +
                                               std::string(target_.private_dns_name.starts_with("*.") ? " without *." : "") + ")"
                                         : c.domain;
        for (const auto& t : k.txt) {
          if (t.truncated) continue;
          if (t.text == target_.token.value) {
            hint("the value is published at " + where + ", without the " + target_.token.name +
                 " label: AWS accepts that as a fallback for DNS hosts that reject underscores, vpced does not; "
                 "publish it at " + record_name(i));
          } else if (!near_miss_hints(target_.token, t.text).empty()) {
            hint("a value close to the token (" + show_value(t.text) + ") is published at " + where +
                 "; vpced looks for it at " + record_name(i) + " only, and it must equal \"" + target_.token.value +
                 "\" exactly");
          }
        }
        release();
      });
    }
  }

  void phase_done() {
    if (phase_ == 1) {
      for (size_t i = 0; i < cands_.size(); ++i) {
        const Candidate& c = cands_[i];
        if (!c.resolved || !c.set.error.empty() || c.set.servers.empty()) continue;
        if (std::all_of(c.served.begin(), c.served.end(), [](char s) { return s != 0; })) {
          report_.matched = true;
          report_.matched_candidate = c.domain;
          report_.matched_record = record_name(i);
          break;
        }
      }
      if (report_.matched) {
        finish();
        return;
      }
      phase_ = 2;
      hold();
      for (size_t i = 0; i < cands_.size(); ++i) explain_bare(i);
      release();
      return;
    }
    finish();
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    if (!report_.matched) {
      const bool any_txt = std::any_of(lines_.begin(), lines_.end(), [](const OrderedLine& l) {
        return l.line.outcome == Outcome::Different || l.line.outcome == Outcome::Match;
      });
      const bool any_answer = std::any_of(lines_.begin(), lines_.end(), [](const OrderedLine& l) {
        return l.line.outcome == Outcome::NxDomain || l.line.outcome == Outcome::NoData;
      });
      if (!any_txt && any_answer && !cands_.empty())
        hint("no server has any TXT record at " + record_name(0) + (cands_.size() > 1 ? " or at its parents" : "") +
             ": publish TXT \"" + target_.token.value + "\" at " + record_name(0) +
             (cands_.size() > 1 ? " (or at " + record_name(cands_.size() - 1) + " to cover the whole domain)" : ""));
      for (size_t i = 0; i < cands_.size(); ++i) {
        const Candidate& c = cands_[i];
        const size_t n = static_cast<size_t>(std::count(c.served.begin(), c.served.end(), 1));
        if (n == 0 || n == c.served.size()) continue;
        std::string stale;
        for (size_t j = 0; j < c.served.size(); ++j)
          if (!c.served[j]) stale += (stale.empty() ? "" : ", ") + c.set.servers[j].label;
        hint(record_name(i) + " is served by " + std::to_string(n) + " of " + std::to_string(c.served.size()) +
             " servers; not yet by " + stale +
             " (a secondary that has not loaded the new zone yet? check its zone transfer and NOTIFY); every "
             "server must serve it");
      }
    }
    std::stable_sort(lines_.begin(), lines_.end(), [](const OrderedLine& a, const OrderedLine& b) {
      return std::tie(a.candidate, a.server, a.sub) < std::tie(b.candidate, b.server, b.sub);
    });
    for (auto& l : lines_) report_.lines.push_back(std::move(l.line));
    lines_.clear();
    auto done = std::move(done_);
    done(std::move(report_));
  }

  Transport& transport_;
  Target target_;
  zones::VerifyConfig config_;
  CheckDone done_;
  CheckReport report_;
  std::vector<Candidate> cands_;
  std::vector<OrderedLine> lines_;
  std::set<std::string> notes_seen_;
  std::map<std::string, Memo<ServerSet>> server_memo_;
  std::map<std::string, Memo<ZoneInfo>> zone_memo_;
  std::map<std::string, Memo<QueryResult>> addr_memo_;
  std::map<std::string, Memo<char>> follow_memo_;
  size_t outstanding_ = 0;
  int phase_ = 1;
  bool finished_ = false;
};

}  // namespace

std::vector<std::string> CheckReport::reasons(const Target& target) const {
  std::vector<std::string> out;
  const auto domains = candidate_domains(target.private_dns_name);
  if (matched) {
    std::string s = "verified: TXT " + matched_record + " holds the value on every server asked";
    if (!domains.empty() && matched_candidate != domains.front())
      s += " (the parent domain " + matched_candidate + " covers " + target.private_dns_name +
           "; a record at a parent is fine)";
    out.push_back(std::move(s));
  } else {
    std::string list;
    for (const auto& d : domains) list += (list.empty() ? "" : ", ") + target.token.name + "." + d;
    out.push_back("not verified: TXT \"" + target.token.value + "\" is not served by every server asked at any of " +
                  list);
  }
  for (const auto& n : notes) out.push_back(n);
  for (const auto& l : lines) {
    std::string s = l.record + " @ " + l.server + ": " + std::string(to_string(l.outcome));
    if (!l.values.empty()) {
      s += ": found ";
      for (size_t i = 0; i < l.values.size(); ++i) s += (i ? ", " : "") + l.values[i];
    }
    if (!l.note.empty()) s += " (" + l.note + ")";
    out.push_back(std::move(s));
  }
  for (const auto& h : hints) out.push_back("hint: " + h);
  if (out.size() > kMaxReasonLines) {
    const size_t more = out.size() - (kMaxReasonLines - 1);
    out.resize(kMaxReasonLines - 1);
    out.push_back("… " + std::to_string(more) + " more lines");
  }
  return out;
}

std::vector<zones::VerificationDetail> CheckReport::details() const {
  std::vector<zones::VerificationDetail> out;
  for (const auto& l : lines) {
    if (out.size() >= kMaxReasonLines) break;
    out.push_back({l.record, l.server, std::string(result_word(l.outcome)), l.values});
  }
  return out;
}

void run_check(Transport& transport, const Target& target, const zones::VerifyConfig& config, CheckDone done) {
  std::make_shared<CheckRun>(transport, target, config, std::move(done))->start();
}

}  // namespace vpced::verify
