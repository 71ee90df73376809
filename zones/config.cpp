// Loads the TOML config (design §3): syntax, types, ranges and cross-references, every error with its position.
#include "zones/config.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <set>
#include <sstream>
#include <unordered_map>

#include "zones/naming.hpp"
#include "zones/shapes.hpp"

namespace vpced::zones {

// The keys each table of the file may hold (design §3); "" is the top level. Arrays of tables ([[services]],
// transfer.keys, ...) and inline tables are listed by their dotted path. Free-form tables whose keys are data
// (verify.nameservers, accounts.az_names, endpoints.addresses) have no entry.
const std::vector<SchemaTable>& config_schema() {
  static const std::vector<SchemaTable> schema = {
      {"", {"region", "server", "transfer", "verify", "accounts", "services", "vpcs", "endpoints"}},
      {"region", {"name", "dns_suffix", "azs"}},
      {"server",
       {"state_dir", "dns_listen", "admin_listen", "ttl", "forwarders", "trust_ecs_from", "admin_read_timeout",
        "admin_write_timeout", "tcp_max_connections_per_source", "rrl"}},
      {"server.rrl", {"rate", "slip", "ipv4_prefix", "ipv6_prefix", "exempt"}},
      {"transfer", {"secondaries", "allow", "keys"}},
      {"transfer.secondaries", {"address", "key"}},
      {"transfer.keys", {"name", "algorithm", "secret_file", "view"}},
      {"verify", {"resolvers", "nameservers", "mode", "interval", "give_up_after", "recheck_every"}},
      {"accounts", {"id", "az_names"}},
      {"services",
       {"name", "id", "owner", "azs", "acceptance_required", "allowed_principals", "accepted", "rejected",
        "private_dns_name", "load_balancer"}},
      {"services.load_balancer",
       {"cross_zone", "proxy_protocol_v2", "idle_timeout", "connect_timeout", "max_connections_per_target",
        "max_connections_per_endpoint", "listeners", "targets", "health_check"}},
      {"services.load_balancer.targets", {"address", "az"}},
      {"services.load_balancer.health_check", {"interval", "timeout", "healthy_threshold", "unhealthy_threshold"}},
      {"vpcs", {"id", "account", "dns_clients", "dns_listen", "subnets"}},
      {"vpcs.subnets", {"id", "az", "cidr"}},
      {"endpoints", {"name", "id", "vpc", "service", "principal", "subnets", "private_dns_enabled", "addresses"}},
  };
  return schema;
}

std::optional<Seconds> parse_duration(std::string_view s) {
  // A century bounds every count so the sum cannot overflow; no setting needs more.
  constexpr int64_t kMax = int64_t{100} * 366 * 86400;
  if (s.empty()) return std::nullopt;
  int64_t total = 0;
  int previous_rank = 5;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = i;
    while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
    if (j == i || j == s.size()) return std::nullopt;  // a unit without a count, or a count without a unit
    int64_t count = 0;
    auto [end, ec] = std::from_chars(s.data() + i, s.data() + j, count);
    if (ec != std::errc() || end != s.data() + j) return std::nullopt;
    int64_t unit = 0;
    int rank = 0;
    switch (s[j]) {
      case 'd': unit = 86400, rank = 4; break;
      case 'h': unit = 3600, rank = 3; break;
      case 'm': unit = 60, rank = 2; break;
      case 's': unit = 1, rank = 1; break;
      default: return std::nullopt;
    }
    // Units in descending order, each once: "5m1h" or "1m1m" is more likely a typo than intent.
    if (rank >= previous_rank) return std::nullopt;
    previous_rank = rank;
    if (count > kMax / unit) return std::nullopt;
    total += count * unit;
    if (total > kMax) return std::nullopt;
    i = j + 1;
  }
  return Seconds{total};
}

namespace {

// The keys of one config_schema() table; a path missing from the table is a programming error.
const std::vector<std::string>& schema_keys(std::string_view path) {
  for (const SchemaTable& t : config_schema())
    if (t.path == path) return t.keys;
  throw std::logic_error("config_schema() has no table '" + std::string(path) + "'");
}

namespace fs = std::filesystem;

template <class T>
struct At {
  T value;
  SourcePos pos;
};
using Str = At<std::string>;

std::string quote(std::string_view s) { return "'" + std::string(s) + "'"; }

std::string format_duration(Seconds d) {
  int64_t s = d.count();
  if (s != 0 && s % 86400 == 0) return std::to_string(s / 86400) + "d";
  if (s != 0 && s % 3600 == 0) return std::to_string(s / 3600) + "h";
  if (s != 0 && s % 60 == 0) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

const char* type_name(toml::node_type t) {
  switch (t) {
    case toml::node_type::table: return "table";
    case toml::node_type::array: return "array";
    case toml::node_type::string: return "string";
    case toml::node_type::integer: return "integer";
    case toml::node_type::floating_point: return "float";
    case toml::node_type::boolean: return "boolean";
    case toml::node_type::date: return "date";
    case toml::node_type::time: return "time";
    case toml::node_type::date_time: return "date-time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// Identifier shapes (zones/shapes.hpp). AWS documents the id formats; AZ names and IDs follow the shapes AWS
// uses today.
using Shape = bool (*)(std::string_view);
constexpr Shape kRegionName = shape::region_name, kAzId = shape::az_id, kAzName = shape::az_name,
                kAccountId = shape::account_id, kServiceId = is_service_id, kEndpointId = is_endpoint_id,
                kVpcId = shape::vpc_id, kSubnetId = shape::subnet_id, kObjectName = shape::object_name,
                kPrincipal = shape::principal;

constexpr const char* kAzIdLike = "an AZ ID like \"use1-az1\"";
constexpr const char* kAzNameLike = "an AZ name like \"us-east-1a\"";
constexpr const char* kAccountLike = "a 12-digit account id";
constexpr const char* kVpcLike = "a VPC id: \"vpc-\" and 8 or 17 lowercase hex digits";
constexpr const char* kSubnetLike = "a subnet id: \"subnet-\" and 8 or 17 lowercase hex digits";
constexpr const char* kNameLike = "a name of 1 to 64 characters from A-Z a-z 0-9 . _ -";
constexpr const char* kPrincipalLike =
    "an IAM principal like \"arn:aws:iam::123456789012:root\", \"…:role/NAME\" or \"…:user/NAME\"";

const std::set<std::string, std::less<>> kTsigAlgorithms = {"hmac-md5",    "hmac-sha1",   "hmac-sha224",
                                                           "hmac-sha256", "hmac-sha384", "hmac-sha512"};

// Why `s` is not a lowercase host name (RFC 1123 §2.1: letters, digits, inner hyphens; labels ≤ 63, name ≤ 253),
// or nullopt when it is one.
std::optional<std::string> dns_name_problem(std::string_view s, size_t min_labels, bool allow_underscore) {
  if (s.empty()) return "it is empty";
  if (s.size() > 253) return "it is longer than 253 characters";
  if (s.back() == '.') return "write it without the trailing dot";
  size_t labels = 0;
  size_t start = 0;
  while (start <= s.size()) {
    size_t dot = s.find('.', start);
    if (dot == std::string_view::npos) dot = s.size();
    std::string_view label = s.substr(start, dot - start);
    if (label.empty()) return "it has an empty label";
    if (label.size() > 63) return "label " + quote(label) + " is longer than 63 characters";
    for (char c : label) {
      if (c >= 'A' && c <= 'Z') return "it must be lowercase";
      bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || (allow_underscore && c == '_');
      if (!ok) {
        if (c == '*') return "'*' is allowed only as the whole first label (\"*.example.com\")";
        return "label " + quote(label) + " has a character other than a-z, 0-9 and '-'";
      }
    }
    if (label.front() == '-' || label.back() == '-') return "label " + quote(label) + " starts or ends with '-'";
    ++labels;
    start = dot + 1;
  }
  if (labels < min_labels) return "it needs at least " + std::to_string(min_labels) + " labels";
  return std::nullopt;
}

// A private DNS name: a host name of at least two labels, or "*." and one (RFC 4592 wildcard as a whole label).
std::optional<std::string> private_dns_name_problem(std::string_view s) {
  std::string_view rest = s;
  if (rest.substr(0, 2) == "*.") rest.remove_prefix(2);
  if (s.size() > 253) return "it is longer than 253 characters";
  return dns_name_problem(rest, 2, false);
}

// The names a private DNS name answers for: a wildcard "*.d" covers every name strictly below d (RFC 4592).
struct DnsPattern {
  bool wildcard = false;
  std::string_view domain;  // the name, or d for "*.d"
};

DnsPattern dns_pattern(std::string_view name) {
  if (name.substr(0, 2) == "*.") return {true, name.substr(2)};
  return {false, name};
}




// Source positions of the values the cross-reference checks point at, parallel to the config's vectors.
struct AccountSrc {
  SourcePos id;
  std::map<std::string, SourcePos> az_id;  // AZ name → position of its AZ ID value
};

struct TargetSrc {
  SourcePos address, az;
};

struct ServiceSrc {
  SourcePos name, id, owner, private_dns_name;
  std::vector<SourcePos> azs, accepted, rejected;
  std::vector<TargetSrc> targets;
};

struct SubnetSrc {
  SourcePos id, az, cidr;
  bool cidr_ok = false;
};

struct VpcSrc {
  SourcePos id, account;
  std::vector<SourcePos> dns_clients, dns_listen;
  std::vector<SubnetSrc> subnets;
};

struct EndpointSrc {
  SourcePos name, id, vpc, service, principal, private_dns_enabled;
  std::vector<SourcePos> subnets;
  std::map<std::string, SourcePos> address_key, address_value;
};

struct KeySrc {
  SourcePos name, view;
};

class Loader {
 public:
  Loader(const fs::path& file, Diagnostics& diags, const StateDirKnown& on_state_dir)
      : path_(file), file_(file.string()), diags_(diags), on_state_dir_(on_state_dir) {
    std::error_code ec;
    fs::path abs = fs::absolute(file.empty() ? fs::path(".") : file, ec);
    base_dir_ = (ec ? file : abs).parent_path();
  }

  std::optional<Config> load(std::string_view text) {
    toml::table root;
    try {
      root = toml::parse(text, std::string_view(file_.str()));
    } catch (const toml::parse_error& e) {
      std::string message(e.description());
      if (!message.empty()) message[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(message[0])));
      // toml++ says "Error while parsing …"; after our own "error: " prefix that would read "error: error while".
      if (message.starts_with("error while ")) message = "TOML syntax: " + message.substr(12);
      error(pos(e.source()), std::move(message));
      diags_.sort();
      return std::nullopt;
    }
    cfg_.file = path_;
    cfg_.server.state_dir = resolve_path("state");
    cfg_.server.admin_listen = *parse_host_port("127.0.0.1:8053");
    read_root(root);
    check_accounts();
    check_services();
    check_vpcs();
    check_endpoints();
    check_decisions();
    check_private_dns();
    check_transfer_keys();
    diags_.sort();
    if (diags_.has_errors()) return std::nullopt;
    cfg_.strings->seal();
    return std::move(cfg_);
  }

 private:
  // ---- positions and messages ----

  SourcePos pos(const toml::source_region& r) const { return {file_, r.begin.line, r.begin.column}; }
  SourcePos pos(const toml::node& n) const { return pos(n.source()); }
  SourcePos file_pos() const { return {file_, 0, 0}; }

  void error(const SourcePos& p, std::string message) { diags_.error(p, std::move(message)); }

  void type_error(const toml::node& n, std::string_view path, std::string_view expected) {
    error(pos(n), std::string(path) + ": expected " + std::string(expected) + ", got " + type_name(n.type()));
  }

  static std::string line_of(const SourcePos& p) { return "line " + std::to_string(p.line); }

  // ---- tables ----

  // Reports every key of `t` outside the schema table `schema_path`, with the nearest known key as a hint for
  // typos.
  void check_keys(const toml::table& t, std::string_view schema_path, std::string_view where) {
    const std::vector<std::string>& known = schema_keys(schema_path);
    for (auto&& [k, v] : t) {
      std::string_view name = k.str();
      if (std::find(known.begin(), known.end(), name) != known.end()) continue;
      std::string message = "unknown key " + quote(name) + " " + std::string(where);
      std::string_view best;
      size_t best_distance = 3;
      for (const std::string& candidate : known) {
        size_t d = edit_distance(name, candidate);
        if (d < best_distance) best = candidate, best_distance = d;
      }
      if (!best.empty()) message += " (did you mean " + quote(best) + "?)";
      error(pos(k.source()), std::move(message));
    }
  }

  const toml::node* require(const toml::table& t, std::string_view key, std::string_view where) {
    const toml::node* n = t.get(key);
    if (!n) error(pos(t), "missing key " + quote(key) + " in " + std::string(where));
    return n;
  }

  const toml::table* table(const toml::node* n, std::string_view path) {
    if (!n) return nullptr;
    if (!n->is_table()) type_error(*n, path, "a table");
    return n->as_table();
  }

  const toml::array* array(const toml::node* n, std::string_view path) {
    if (!n) return nullptr;
    if (!n->is_array()) type_error(*n, path, "an array");
    return n->as_array();
  }

  // Calls `read` for each table of the array of tables `key` ([[key]] or key = [{…}]).
  template <class F>
  void for_each_table(const toml::table& root, std::string_view key, F&& read) {
    const toml::node* n = root.get(key);
    if (!n) return;
    const toml::array* a = n->as_array();
    if (!a) {
      type_error(*n, key, "an array of tables ([[" + std::string(key) + "]])");
      return;
    }
    for (const toml::node& e : *a) {
      if (const toml::table* t = e.as_table())
        read(*t);
      else
        type_error(e, key, "a table");
    }
  }

  // ---- scalar values ----

  std::optional<Str> str(const toml::node* n, std::string_view path) {
    if (!n) return std::nullopt;
    if (!n->is_string()) {
      type_error(*n, path, "a string");
      return std::nullopt;
    }
    return Str{n->as_string()->get(), pos(*n)};
  }

  // A string of the shape `matches`; `like` describes the shape in the message.
  std::optional<Str> str_matching(const toml::node* n, std::string_view path, Shape matches, std::string_view like) {
    auto s = str(n, path);
    if (!s) return std::nullopt;
    if (!matches(s->value)) {
      error(s->pos, std::string(path) + ": expected " + std::string(like) + ", got " + quote(s->value));
      return std::nullopt;
    }
    return s;
  }

  std::optional<bool> boolean(const toml::node* n, std::string_view path) {
    if (!n) return std::nullopt;
    if (!n->is_boolean()) {
      type_error(*n, path, "a boolean");
      return std::nullopt;
    }
    return n->as_boolean()->get();
  }

  std::optional<int64_t> integer(const toml::node* n, std::string_view path, int64_t lo, int64_t hi) {
    if (!n) return std::nullopt;
    if (!n->is_integer()) {
      type_error(*n, path, "an integer");
      return std::nullopt;
    }
    int64_t v = n->as_integer()->get();
    if (v < lo || v > hi) {
      error(pos(*n), std::string(path) + ": must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
                         ", got " + std::to_string(v));
      return std::nullopt;
    }
    return v;
  }

  std::optional<Seconds> duration(const toml::node* n, std::string_view path, Seconds lo, Seconds hi) {
    auto s = str(n, path);
    if (!s) return std::nullopt;
    auto d = parse_duration(s->value);
    if (!d) {
      error(s->pos, std::string(path) + ": expected a duration like \"30s\", \"5m\", \"7d\", got " + quote(s->value));
      return std::nullopt;
    }
    if (*d < lo || *d > hi) {
      error(s->pos, std::string(path) + ": must be between " + format_duration(lo) + " and " + format_duration(hi) +
                        ", got " + quote(s->value));
      return std::nullopt;
    }
    return d;
  }

  // "host:port"; `default_port` 0 means the port is required.
  std::optional<At<HostPort>> host_port(const toml::node* n, std::string_view path, uint16_t default_port) {
    auto s = str(n, path);
    if (!s) return std::nullopt;
    auto hp = parse_host_port(s->value, default_port);
    if (!hp) {
      std::string like = default_port == 0
                             ? "an address with a port like \"127.0.0.1:5300\" or \"[::1]:5300\""
                             : "an address like \"127.0.0.1\" or \"127.0.0.1:53\" (IPv6 as \"[::1]:53\")";
      error(s->pos, std::string(path) + ": expected " + like + ", got " + quote(s->value));
      return std::nullopt;
    }
    return At<HostPort>{*hp, s->pos};
  }

  std::optional<At<Cidr>> cidr(const toml::node* n, std::string_view path) {
    auto s = str(n, path);
    if (!s) return std::nullopt;
    if (auto c = parse_cidr(s->value)) return At<Cidr>{*c, s->pos};
    if (auto fixed = parse_prefix_clearing_host_bits(s->value))
      error(s->pos, std::string(path) + ": " + quote(s->value) + " has host bits set (did you mean " +
                        quote(to_string(*fixed)) + "?)");
    else
      error(s->pos, std::string(path) + ": expected a CIDR prefix like \"10.0.0.0/8\", got " + quote(s->value));
    return std::nullopt;
  }

  std::optional<At<std::string>> dns_name(const toml::node* n, std::string_view path, size_t min_labels,
                                          bool allow_underscore = false) {
    auto s = str(n, path);
    if (!s) return std::nullopt;
    if (auto why = dns_name_problem(s->value, min_labels, allow_underscore)) {
      error(s->pos, std::string(path) + ": " + quote(s->value) + " is not a valid DNS name: " + *why);
      return std::nullopt;
    }
    return s;
  }

  fs::path resolve_path(const fs::path& p) const {
    fs::path r = p.is_absolute() ? p.lexically_normal() : (base_dir_ / p).lexically_normal();
    if (!r.has_filename() && r.has_parent_path() && r != r.root_path()) r = r.parent_path();  // "state/"
    return r;
  }

  std::optional<fs::path> path_value(const toml::node* n, std::string_view path) {
    auto s = str(n, path);
    if (!s) return std::nullopt;
    if (s->value.empty()) {
      error(s->pos, std::string(path) + ": must not be empty");
      return std::nullopt;
    }
    return resolve_path(s->value);
  }

  // ---- arrays of scalars ----

  // Calls `read(element)` for each element of the array at `n`; reports an empty array when `non_empty`.
  template <class F>
  void each(const toml::node* n, std::string_view path, bool non_empty, std::string_view why_non_empty, F&& read) {
    const toml::array* a = array(n, path);
    if (!a) return;
    if (a->empty() && non_empty) {
      std::string message = std::string(path) + ": must not be empty";
      if (!why_non_empty.empty()) message += " (" + std::string(why_non_empty) + ")";
      error(pos(*n), std::move(message));
    }
    for (const toml::node& e : *a) read(&e);
  }

  template <class F>
  void each(const toml::node* n, std::string_view path, F&& read) {
    each(n, path, false, "", std::forward<F>(read));
  }

  void host_ports(const toml::node* n, std::string_view path, uint16_t default_port, std::vector<HostPort>& out,
                  std::vector<SourcePos>* positions = nullptr) {
    each(n, path, [&](const toml::node* e) {
      auto hp = host_port(e, path, default_port);
      if (!hp) return;
      if (std::find(out.begin(), out.end(), hp->value) != out.end()) {
        error(hp->pos, std::string(path) + ": duplicate address " + quote(to_string(hp->value)));
        return;
      }
      out.push_back(hp->value);
      if (positions) positions->push_back(hp->pos);
    });
  }

  void cidrs(const toml::node* n, std::string_view path, std::vector<Cidr>& out,
             std::vector<SourcePos>* positions = nullptr) {
    each(n, path, [&](const toml::node* e) {
      auto c = cidr(e, path);
      if (!c) return;
      if (std::find(out.begin(), out.end(), c->value) != out.end()) {
        error(c->pos, std::string(path) + ": duplicate prefix " + quote(to_string(c->value)));
        return;
      }
      out.push_back(c->value);
      if (positions) positions->push_back(c->pos);
    });
  }

  // ---- sections ----

  void read_root(const toml::table& root) {
    check_keys(root, "", "at top level");
    if (const toml::node* n = root.get("region")) {
      if (auto* t = table(n, "region")) read_region(*t);
    } else {
      error(file_pos(), "missing table [region]");
    }
    if (const toml::node* n = root.get("server")) {
      if (auto* t = table(n, "server")) read_server(*t);
    } else {
      error(file_pos(), "missing table [server] (server.dns_listen is required)");
    }
    if (on_state_dir_) on_state_dir_(cfg_.server.state_dir);
    if (auto* t = table(root.get("transfer"), "transfer")) read_transfer(*t);
    if (auto* t = table(root.get("verify"), "verify")) read_verify(*t);
    for_each_table(root, "accounts", [&](const toml::table& t) { read_account(t); });
    for_each_table(root, "services", [&](const toml::table& t) { read_service(t); });
    for_each_table(root, "vpcs", [&](const toml::table& t) { read_vpc(t); });
    for_each_table(root, "endpoints", [&](const toml::table& t) { read_endpoint(t); });
  }

  void read_region(const toml::table& t) {
    RegionConfig& r = cfg_.region;
    r.pos = pos(t);
    check_keys(t, "region", "in [region]");
    if (auto s = str_matching(require(t, "name", "[region]"), "region.name", kRegionName,
                              "a region name like \"us-east-1\""))
      r.name = s->value;
    if (auto s = dns_name(t.get("dns_suffix"), "region.dns_suffix", 1)) r.dns_suffix = s->value;
    each(require(t, "azs", "[region]"), "region.azs", true, "", [&](const toml::node* e) {
      auto s = str_matching(e, "region.azs", kAzId, kAzIdLike);
      if (!s) return;
      if (std::find(r.azs.begin(), r.azs.end(), s->value) != r.azs.end())
        return error(s->pos, "region.azs: duplicate AZ ID " + quote(s->value));
      if (r.azs.size() == kMaxAzs)
        return error(s->pos, "region.azs: at most " + std::to_string(kMaxAzs) + " AZ IDs, " + quote(s->value) +
                                 " is one more");
      r.azs.push_back(s->value);
    });
  }

  void read_server(const toml::table& t) {
    ServerConfig& s = cfg_.server;
    s.pos = pos(t);
    check_keys(t, "server", "in [server]");
    if (auto p = path_value(t.get("state_dir"), "server.state_dir")) s.state_dir = *p;
    host_ports(require(t, "dns_listen", "[server]"), "server.dns_listen", 0, s.dns_listen);
    if (const toml::node* n = t.get("dns_listen"); n && n->is_array() && n->as_array()->empty())
      error(pos(*n), "server.dns_listen: must not be empty");
    if (auto hp = host_port(t.get("admin_listen"), "server.admin_listen", 0)) s.admin_listen = hp->value;
    if (auto v = integer(t.get("ttl"), "server.ttl", 1, 604800)) s.ttl = static_cast<uint32_t>(*v);
    host_ports(t.get("forwarders"), "server.forwarders", 53, s.forwarders);
    cidrs(t.get("trust_ecs_from"), "server.trust_ecs_from", s.trust_ecs_from);
    if (auto d = duration(t.get("admin_read_timeout"), "server.admin_read_timeout", Seconds{1}, Seconds{3600}))
      s.admin_read_timeout = *d;
    if (auto d = duration(t.get("admin_write_timeout"), "server.admin_write_timeout", Seconds{1}, Seconds{3600}))
      s.admin_write_timeout = *d;
    if (auto v = integer(t.get("tcp_max_connections_per_source"), "server.tcp_max_connections_per_source", 0, 65535))
      s.tcp_max_connections_per_source = static_cast<uint32_t>(*v);
    if (auto* r = table(t.get("rrl"), "server.rrl")) read_rrl(*r);
  }

  void read_rrl(const toml::table& t) {
    RrlConfig& r = cfg_.server.rrl;
    r.pos = pos(t);
    check_keys(t, "server.rrl", "in [server.rrl]");
    if (auto v = integer(t.get("rate"), "server.rrl.rate", 0, 1000000)) r.rate = static_cast<uint32_t>(*v);
    if (auto v = integer(t.get("slip"), "server.rrl.slip", 0, 100)) r.slip = static_cast<uint32_t>(*v);
    if (auto v = integer(t.get("ipv4_prefix"), "server.rrl.ipv4_prefix", 8, 32)) r.ipv4_prefix = static_cast<uint8_t>(*v);
    // The prefix is the bucket key and must fit 64 bits; /64 is the smallest network a site normally gets.
    if (auto v = integer(t.get("ipv6_prefix"), "server.rrl.ipv6_prefix", 16, 64)) r.ipv6_prefix = static_cast<uint8_t>(*v);
    cidrs(t.get("exempt"), "server.rrl.exempt", r.exempt);
  }

  void read_transfer(const toml::table& t) {
    TransferConfig& tr = cfg_.transfer;
    tr.pos = pos(t);
    check_keys(t, "transfer", "in [transfer]");
    // Each secondary is "host:port" or { address = "host:port", key = "KEY" } (a signed NOTIFY).
    each(t.get("secondaries"), "transfer.secondaries", [&](const toml::node* e) {
      SecondaryConfig sc;
      std::optional<At<HostPort>> hp;
      if (e->is_table()) {
        const toml::table* st = e->as_table();
        check_keys(*st, "transfer.secondaries", "in transfer.secondaries");
        hp = host_port(require(*st, "address", "transfer.secondaries"), "transfer.secondaries.address", 53);
        if (auto k = dns_name(st->get("key"), "transfer.secondaries.key", 1, true)) {
          sc.key = k->value;
          secondary_key_pos_.push_back(k->pos);
        } else {
          secondary_key_pos_.push_back({});
        }
      } else {
        hp = host_port(e, "transfer.secondaries", 53);
        secondary_key_pos_.push_back({});
      }
      if (!hp) {
        secondary_key_pos_.pop_back();
        return;
      }
      // One server may take several NOTIFY streams, one per key (BIND with one view per key).
      for (const auto& other : tr.secondaries)
        if (other.address == hp->value && other.key == sc.key) {
          error(hp->pos, "transfer.secondaries: duplicate address " + quote(to_string(hp->value)) +
                             (sc.key.empty() ? std::string() : " with key " + quote(sc.key)));
          secondary_key_pos_.pop_back();
          return;
        }
      sc.address = hp->value;
      sc.pos = hp->pos;
      tr.secondaries.push_back(std::move(sc));
    });
    cidrs(t.get("allow"), "transfer.allow", tr.allow);
    each(t.get("keys"), "transfer.keys", [&](const toml::node* e) {
      const toml::table* k = table(e, "transfer.keys");
      if (!k) return;
      TsigKeyConfig key;
      KeySrc src;
      key.pos = pos(*k);
      check_keys(*k, "transfer.keys", "in transfer.keys");
      // TSIG key names are domain names (RFC 8945 §4.2); BIND and Knot users write them with '_' too.
      if (auto s = dns_name(require(*k, "name", "transfer.keys"), "transfer.keys.name", 1, true)) {
        key.name = s->value;
        src.name = s->pos;
      }
      if (auto s = str(require(*k, "algorithm", "transfer.keys"), "transfer.keys.algorithm")) {
        if (kTsigAlgorithms.count(s->value))
          key.algorithm = s->value;
        else
          error(s->pos, "transfer.keys.algorithm: expected one of hmac-md5, hmac-sha1, hmac-sha224, hmac-sha256, "
                        "hmac-sha384, hmac-sha512, got " + quote(s->value));
      }
      if (auto p = path_value(require(*k, "secret_file", "transfer.keys"), "transfer.keys.secret_file"))
        key.secret_file = *p;
      if (auto s = str_matching(k->get("view"), "transfer.keys.view", kVpcId, kVpcLike)) {
        key.view = s->value;
        src.view = s->pos;
      }
      tr.keys.push_back(std::move(key));
      key_src_.push_back(std::move(src));
    });
  }

  void read_verify(const toml::table& t) {
    VerifyConfig& v = cfg_.verify;
    v.pos = pos(t);
    check_keys(t, "verify", "in [verify]");
    host_ports(t.get("resolvers"), "verify.resolvers", 53, v.resolvers);
    if (const toml::table* ns = table(t.get("nameservers"), "verify.nameservers")) {
      for (auto&& [k, servers] : *ns) {
        std::string domain(k.str());
        if (auto why = dns_name_problem(domain, 1, false)) {
          error(pos(k.source()), "verify.nameservers: " + quote(domain) + " is not a valid DNS name: " + *why);
          continue;
        }
        std::vector<HostPort> list;
        host_ports(&servers, "verify.nameservers", 53, list);
        if (servers.is_array() && servers.as_array()->empty())
          error(pos(servers), "verify.nameservers: " + quote(domain) + " needs at least one server");
        v.nameservers[domain] = std::move(list);
      }
    }
    if (auto s = str(t.get("mode"), "verify.mode")) {
      if (s->value == "authoritative")
        v.mode = VerifyMode::Authoritative;
      else if (s->value == "recursive")
        v.mode = VerifyMode::Recursive;
      else
        error(s->pos, "verify.mode: expected \"authoritative\" or \"recursive\", got " + quote(s->value));
    }
    if (auto d = duration(t.get("interval"), "verify.interval", Seconds{1}, Seconds{86400})) v.interval = *d;
    if (auto d = duration(t.get("give_up_after"), "verify.give_up_after", Seconds{1}, Seconds{365 * 86400}))
      v.give_up_after = *d;
    if (auto d = duration(t.get("recheck_every"), "verify.recheck_every", Seconds{1}, Seconds{30 * 86400}))
      v.recheck_every = *d;
  }

  void read_account(const toml::table& t) {
    AccountConfig a;
    AccountSrc src;
    a.pos = pos(t);
    check_keys(t, "accounts", "in [[accounts]]");
    if (auto s = str_matching(require(t, "id", "[[accounts]]"), "accounts.id", kAccountId, kAccountLike)) {
      a.id = s->value;
      src.id = s->pos;
    }
    if (const toml::table* names = table(t.get("az_names"), "accounts.az_names")) {
      std::map<std::string, std::string> name_of_id;
      for (auto&& [k, v] : *names) {
        std::string name(k.str());
        if (!kAzName(name)) {
          error(pos(k.source()), "accounts.az_names: expected " + std::string(kAzNameLike) + ", got " + quote(name));
          continue;
        }
        auto id = str_matching(&v, "accounts.az_names", kAzId, kAzIdLike);
        if (!id) continue;
        // Each account maps its names one-to-one onto the region's AZ IDs.
        if (auto [it, fresh] = name_of_id.emplace(id->value, name); !fresh) {
          error(id->pos, "accounts.az_names: " + quote(name) + " and " + quote(it->second) + " both map to " +
                             quote(id->value));
          continue;
        }
        a.az_names[name] = id->value;
        src.az_id[name] = id->pos;
      }
    }
    cfg_.accounts.push_back(std::move(a));
    account_src_.push_back(std::move(src));
  }

  void read_service(const toml::table& t) {
    ServiceConfig s;
    ServiceSrc src;
    s.pos = pos(t);
    check_keys(t, "services", "in [[services]]");
    if (auto v = str_matching(require(t, "name", "[[services]]"), "services.name", kObjectName, kNameLike)) {
      s.name = v->value;
      src.name = v->pos;
    }
    if (auto v = str_matching(t.get("id"), "services.id", kServiceId,
                              "a service id: \"vpce-svc-\" and 17 lowercase hex digits")) {
      s.id = v->value;
      src.id = v->pos;
    }
    if (auto v = str_matching(require(t, "owner", "[[services]]"), "services.owner", kAccountId, kAccountLike)) {
      s.owner = v->value;
      src.owner = v->pos;
    }
    each(require(t, "azs", "[[services]]"), "services.azs", true, "a service needs at least one AZ",
         [&](const toml::node* e) {
           auto v = str_matching(e, "services.azs", kAzId, kAzIdLike);
           if (!v) return;
           if (std::find(s.azs.begin(), s.azs.end(), v->value) != s.azs.end())
             return error(v->pos, "services.azs: duplicate AZ ID " + quote(v->value));
           s.azs.push_back(v->value);
           src.azs.push_back(v->pos);
         });
    if (auto v = boolean(t.get("acceptance_required"), "services.acceptance_required")) s.acceptance_required = *v;
    each(t.get("allowed_principals"), "services.allowed_principals", [&](const toml::node* e) {
      auto v = str(e, "services.allowed_principals");
      if (!v) return;
      if (v->value != "*" && !kPrincipal(v->value))
        return error(v->pos, "services.allowed_principals: expected " + std::string(kPrincipalLike) +
                                 " or \"*\", got " + quote(v->value));
      s.allowed_principals.push_back(v->value);
    });
    auto decisions = [&](const char* key, std::vector<std::string>& out, std::vector<SourcePos>& positions) {
      std::string path = std::string("services.") + key;
      each(t.get(key), path, [&](const toml::node* e) {
        auto v = str(e, path);
        if (!v) return;
        if (std::find(out.begin(), out.end(), v->value) != out.end())
          return error(v->pos, path + ": " + quote(v->value) + " is listed twice");
        out.push_back(v->value);
        positions.push_back(v->pos);
      });
    };
    decisions("accepted", s.accepted, src.accepted);
    decisions("rejected", s.rejected, src.rejected);
    if (auto v = str(t.get("private_dns_name"), "services.private_dns_name")) {
      if (auto why = private_dns_name_problem(v->value)) {
        error(v->pos, "services.private_dns_name: " + quote(v->value) + " is not a valid private DNS name: " + *why);
      } else {
        s.private_dns_name = v->value;
        src.private_dns_name = v->pos;
      }
    }
    if (auto* lb = table(t.get("load_balancer"), "services.load_balancer")) read_load_balancer(*lb, s, src);
    cfg_.services.push_back(std::move(s));
    service_src_.push_back(std::move(src));
  }

  void read_load_balancer(const toml::table& t, ServiceConfig& s, ServiceSrc& src) {
    LoadBalancerConfig& lb = s.load_balancer;
    check_keys(t, "services.load_balancer", "in [services.load_balancer]");
    if (auto v = boolean(t.get("cross_zone"), "services.load_balancer.cross_zone")) lb.cross_zone = *v;
    if (auto v = boolean(t.get("proxy_protocol_v2"), "services.load_balancer.proxy_protocol_v2"))
      lb.proxy_protocol_v2 = *v;
    // NLB's TCP idle timeout range (60–6000 s).
    if (auto d = duration(t.get("idle_timeout"), "services.load_balancer.idle_timeout", Seconds{60}, Seconds{6000}))
      lb.idle_timeout = *d;
    if (auto d = duration(t.get("connect_timeout"), "services.load_balancer.connect_timeout", Seconds{1},
                          Seconds{300}))
      lb.connect_timeout = *d;
    if (auto v = integer(t.get("max_connections_per_target"), "services.load_balancer.max_connections_per_target", 1,
                         1000000))
      lb.max_connections_per_target = static_cast<uint32_t>(*v);
    if (auto v = integer(t.get("max_connections_per_endpoint"), "services.load_balancer.max_connections_per_endpoint",
                         0, 1000000))
      lb.max_connections_per_endpoint = static_cast<uint32_t>(*v);
    each(t.get("listeners"), "services.load_balancer.listeners", [&](const toml::node* e) {
      auto v = integer(e, "services.load_balancer.listeners", 1, 65535);
      if (!v) return;
      auto port = static_cast<uint16_t>(*v);
      if (std::find(lb.listeners.begin(), lb.listeners.end(), port) != lb.listeners.end())
        return error(pos(*e), "services.load_balancer.listeners: duplicate port " + std::to_string(port));
      lb.listeners.push_back(port);
    });
    each(t.get("targets"), "services.load_balancer.targets", [&](const toml::node* e) {
      const toml::table* tt = table(e, "services.load_balancer.targets");
      if (!tt) return;
      check_keys(*tt, "services.load_balancer.targets", "in services.load_balancer.targets");
      TargetConfig target;
      TargetSrc tsrc;
      target.pos = pos(*tt);
      bool ok = true;
      if (auto hp = host_port(require(*tt, "address", "services.load_balancer.targets"),
                              "services.load_balancer.targets.address", 0)) {
        auto same = [&](const TargetConfig& o) { return o.address == hp->value; };
        if (std::any_of(lb.targets.begin(), lb.targets.end(), same)) {
          error(hp->pos, "services.load_balancer.targets.address: duplicate target " + quote(to_string(hp->value)));
          ok = false;
        }
        target.address = hp->value;
        tsrc.address = hp->pos;
      } else {
        ok = false;
      }
      if (auto az = str_matching(require(*tt, "az", "services.load_balancer.targets"),
                                 "services.load_balancer.targets.az", kAzId, kAzIdLike)) {
        target.az = az->value;
        tsrc.az = az->pos;
      }
      if (!ok) return;
      lb.targets.push_back(std::move(target));
      src.targets.push_back(tsrc);
    });
    // Targets without a listener port would never receive a connection. Bad listener entries were reported.
    const toml::node* listeners = t.get("listeners");
    if (!lb.targets.empty() && (!listeners || (listeners->is_array() && listeners->as_array()->empty())))
      error(pos(listeners ? *listeners : *t.get("targets")),
            "services.load_balancer.listeners: must not be empty when targets are configured");
    if (const toml::table* hc = table(t.get("health_check"), "services.load_balancer.health_check")) {
      HealthCheckConfig& h = lb.health_check;
      const std::string p = "services.load_balancer.health_check.";
      check_keys(*hc, "services.load_balancer.health_check", "in services.load_balancer.health_check");
      // NLB's ranges for TCP health checks.
      auto interval = duration(hc->get("interval"), p + "interval", Seconds{5}, Seconds{300});
      auto timeout = duration(hc->get("timeout"), p + "timeout", Seconds{2}, Seconds{120});
      if (interval) h.interval = *interval;
      // A check must end before the next one starts: the default timeout shrinks to a shorter interval, and
      // an explicit timeout above the interval is an error.
      if (timeout)
        h.timeout = *timeout;
      else
        h.timeout = std::min(h.timeout, h.interval);
      if (timeout && h.timeout > h.interval)
        error(pos(*hc->get("timeout")), p + "timeout: " + format_duration(h.timeout) +
                                            " must not exceed the interval " + format_duration(h.interval));
      if (auto v = integer(hc->get("healthy_threshold"), p + "healthy_threshold", 2, 10))
        h.healthy_threshold = static_cast<uint32_t>(*v);
      if (auto v = integer(hc->get("unhealthy_threshold"), p + "unhealthy_threshold", 2, 10))
        h.unhealthy_threshold = static_cast<uint32_t>(*v);
    }
  }

  void read_vpc(const toml::table& t) {
    VpcConfig v;
    VpcSrc src;
    v.pos = pos(t);
    check_keys(t, "vpcs", "in [[vpcs]]");
    if (auto s = str_matching(require(t, "id", "[[vpcs]]"), "vpcs.id", kVpcId, kVpcLike)) {
      v.id = s->value;
      src.id = s->pos;
    }
    if (auto s = str_matching(require(t, "account", "[[vpcs]]"), "vpcs.account", kAccountId, kAccountLike)) {
      v.account = s->value;
      src.account = s->pos;
    }
    cidrs(t.get("dns_clients"), "vpcs.dns_clients", v.dns_clients, &src.dns_clients);
    host_ports(t.get("dns_listen"), "vpcs.dns_listen", 53, v.dns_listen, &src.dns_listen);
    each(t.get("subnets"), "vpcs.subnets", [&](const toml::node* e) {
      const toml::table* st = table(e, "vpcs.subnets");
      if (!st) return;
      check_keys(*st, "vpcs.subnets", "in vpcs.subnets");
      SubnetConfig sn;
      SubnetSrc ssrc;
      sn.pos = pos(*st);
      if (auto s = str_matching(require(*st, "id", "vpcs.subnets"), "vpcs.subnets.id", kSubnetId, kSubnetLike)) {
        sn.id = s->value;
        ssrc.id = s->pos;
      }
      if (auto s = str_matching(require(*st, "az", "vpcs.subnets"), "vpcs.subnets.az", kAzName, kAzNameLike)) {
        sn.az = s->value;
        ssrc.az = s->pos;
      }
      if (auto c = cidr(require(*st, "cidr", "vpcs.subnets"), "vpcs.subnets.cidr")) {
        // AWS subnets are IPv4 /16 to /28; ENI addresses are IPv4 (design §5: A records only).
        if (c->value.addr.v6)
          error(c->pos, "vpcs.subnets.cidr: subnets are IPv4, got " + quote(to_string(c->value)));
        else if (c->value.length < 16 || c->value.length > 28)
          error(c->pos, "vpcs.subnets.cidr: prefix length must be between /16 and /28, got " +
                            quote(to_string(c->value)));
        else
          sn.cidr = c->value, ssrc.cidr_ok = true;
        ssrc.cidr = c->pos;
      }
      v.subnets.push_back(std::move(sn));
      src.subnets.push_back(ssrc);
    });
    cfg_.vpcs.push_back(std::move(v));
    vpc_src_.push_back(std::move(src));
  }

  void read_endpoint(const toml::table& t) {
    EndpointConfig ep;
    EndpointSrc src;
    ep.pos = pos(t);
    check_keys(t, "endpoints", "in [[endpoints]]");
    if (auto s = str_matching(require(t, "name", "[[endpoints]]"), "endpoints.name", kObjectName, kNameLike)) {
      ep.name = s->value;
      src.name = s->pos;
    }
    if (auto s = str_matching(t.get("id"), "endpoints.id", kEndpointId,
                              "an endpoint id: \"vpce-\" and 17 lowercase hex digits")) {
      ep.id = s->value;
      src.id = s->pos;
    }
    if (auto s = str_matching(require(t, "vpc", "[[endpoints]]"), "endpoints.vpc", kVpcId, kVpcLike)) {
      ep.vpc = cfg_.strings->intern(s->value);
      src.vpc = s->pos;
    }
    if (auto s = str(require(t, "service", "[[endpoints]]"), "endpoints.service")) {
      if (s->value.empty()) {
        error(s->pos, "endpoints.service: must not be empty");
      } else {
        ep.service = cfg_.strings->intern(s->value);
        src.service = s->pos;
      }
    }
    if (auto s = str(require(t, "principal", "[[endpoints]]"), "endpoints.principal")) {
      if (s->value == "*")
        error(s->pos, "endpoints.principal: \"*\" is allowed only in services.allowed_principals");
      else if (!kPrincipal(s->value))
        error(s->pos, "endpoints.principal: expected " + std::string(kPrincipalLike) + ", got " + quote(s->value));
      else
        ep.principal = cfg_.strings->intern(s->value), src.principal = s->pos;
    }
    std::vector<std::string_view> subnets;
    each(require(t, "subnets", "[[endpoints]]"), "endpoints.subnets", true,
         "an endpoint needs a subnet in at least one AZ", [&](const toml::node* e) {
           auto s = str_matching(e, "endpoints.subnets", kSubnetId, kSubnetLike);
           if (!s) return;
           if (std::find(subnets.begin(), subnets.end(), s->value) != subnets.end())
             return error(s->pos, "endpoints.subnets: subnet " + quote(s->value) + " is listed twice");
           subnets.push_back(cfg_.strings->intern(s->value));
           src.subnets.push_back(s->pos);
         });
    ep.subnets = cfg_.strings->intern_list(subnets);
    if (const toml::node* n = t.get("private_dns_enabled")) {
      if (auto b = boolean(n, "endpoints.private_dns_enabled")) {
        ep.private_dns_enabled = *b;
        src.private_dns_enabled = pos(*n);
      }
    }
    if (const toml::table* addrs = table(t.get("addresses"), "endpoints.addresses")) {
      for (auto&& [k, v] : *addrs) {
        std::string subnet(k.str());
        src.address_key[subnet] = pos(k.source());
        auto s = str(&v, "endpoints.addresses");
        if (!s) continue;
        auto ip = parse_ipv4(s->value);
        if (!ip) {
          error(s->pos, "endpoints.addresses: expected an IPv4 address like \"10.0.1.10\", got " + quote(s->value));
          continue;
        }
        const std::string_view key = cfg_.strings->intern(subnet);
        auto at = std::lower_bound(ep.addresses.begin(), ep.addresses.end(), key,
                                   [](const auto& a, std::string_view k) { return a.first < k; });
        if (at != ep.addresses.end() && at->first == key)
          at->second = *ip;
        else
          ep.addresses.insert(at, {key, *ip});
        src.address_value[subnet] = s->pos;
      }
    }
    cfg_.endpoints.push_back(std::move(ep));
    endpoint_src_.push_back(std::move(src));
  }

  // ---- cross-references (design §3's semantic errors) ----

  bool in_region(const std::string& az_id) const {
    return std::find(cfg_.region.azs.begin(), cfg_.region.azs.end(), az_id) != cfg_.region.azs.end();
  }

  // Registers `key` for object `index`; reports a second object with the same key. Empty keys were reported.
  void unique(std::map<std::string, size_t, std::less<>>& index, std::map<std::string, SourcePos>& first,
              const std::string& key, size_t i, const SourcePos& p, std::string_view what) {
    if (key.empty()) return;
    if (auto [it, fresh] = index.emplace(key, i); !fresh) {
      error(p, "duplicate " + std::string(what) + " " + quote(key) + " (first defined on " + line_of(first[key]) + ")");
      return;
    }
    first[key] = p;
  }

  void check_accounts() {
    std::map<std::string, SourcePos> first;
    for (size_t i = 0; i < cfg_.accounts.size(); ++i) {
      const AccountConfig& a = cfg_.accounts[i];
      unique(account_by_id_, first, a.id, i, account_src_[i].id, "account id");
      if (cfg_.region.azs.empty()) continue;  // reported with [region]
      for (const auto& [name, id] : a.az_names)
        if (!in_region(id))
          error(account_src_[i].az_id.at(name),
                "accounts.az_names: " + quote(name) + " maps to " + quote(id) + ", which is not in region.azs");
    }
  }

  void check_services() {
    std::map<std::string, SourcePos> first_name, first_id;
    for (size_t i = 0; i < cfg_.services.size(); ++i) {
      const ServiceConfig& s = cfg_.services[i];
      const ServiceSrc& src = service_src_[i];
      unique(service_by_name_, first_name, s.name, i, src.name, "service name");
      if (s.id) unique(service_by_id_, first_id, *s.id, i, src.id, "service id");
      if (!s.owner.empty() && !account_by_id_.count(s.owner))
        error(src.owner, "services.owner: unknown account " + quote(s.owner) + " (not in [[accounts]])");
      if (!cfg_.region.azs.empty())
        for (size_t j = 0; j < s.azs.size(); ++j)
          if (!in_region(s.azs[j])) error(src.azs[j], "services.azs: " + quote(s.azs[j]) + " is not in region.azs");
      if (s.azs.empty()) continue;  // reported; every target would be out of zone
      for (size_t j = 0; j < s.load_balancer.targets.size(); ++j) {
        const TargetConfig& target = s.load_balancer.targets[j];
        if (!target.az.empty() && std::find(s.azs.begin(), s.azs.end(), target.az) == s.azs.end())
          error(src.targets[j].az, "services.load_balancer.targets.az: " + quote(target.az) +
                                       " is not one of the service's azs");
      }
    }
  }

  void check_vpcs() {
    std::map<std::string, SourcePos> first_vpc, first_subnet;
    std::map<HostPort, size_t> listen_owner;
    for (size_t i = 0; i < cfg_.vpcs.size(); ++i) {
      const VpcConfig& v = cfg_.vpcs[i];
      const VpcSrc& src = vpc_src_[i];
      unique(vpc_by_id_, first_vpc, v.id, i, src.id, "vpc id");
      const AccountConfig* account = nullptr;
      if (!v.account.empty()) {
        if (auto it = account_by_id_.find(v.account); it != account_by_id_.end())
          account = &cfg_.accounts[it->second];
        else
          error(src.account, "vpcs.account: unknown account " + quote(v.account) + " (not in [[accounts]])");
      }
      for (size_t j = 0; j < v.subnets.size(); ++j) {
        const SubnetConfig& sn = v.subnets[j];
        const SubnetSrc& ssrc = src.subnets[j];
        // Subnet ids are global in AWS, and endpoints name subnets by id alone.
        if (!sn.id.empty()) {
          if (auto [it, fresh] = subnet_by_id_.emplace(sn.id, std::pair{i, j}); !fresh)
            error(ssrc.id, "duplicate subnet id " + quote(sn.id) + " (first defined on " + line_of(first_subnet[sn.id]) +
                               ")");
          else
            first_subnet[sn.id] = ssrc.id;
        }
        if (account && !sn.az.empty() && !account->az_names.count(sn.az))
          error(ssrc.az, "vpcs.subnets.az: " + quote(sn.az) + " is not an AZ name of account " + quote(v.account) +
                             " (see its az_names)");
        if (!ssrc.cidr_ok) continue;
        for (size_t k = 0; k < j; ++k)
          if (src.subnets[k].cidr_ok && v.subnets[k].cidr.overlaps(sn.cidr))
            error(ssrc.cidr, "vpcs.subnets.cidr: " + quote(to_string(sn.cidr)) + " overlaps " +
                                 quote(to_string(v.subnets[k].cidr)) + " of subnet " + quote(v.subnets[k].id) +
                                 " in the same vpc");
      }
      // A query source must pick one view (design §5); within a VPC only exact repeats are errors (reported
      // while reading), since a nested prefix there changes nothing.
      for (size_t j = 0; j < v.dns_clients.size(); ++j)
        for (size_t k = 0; k < i; ++k)
          for (const Cidr& other : cfg_.vpcs[k].dns_clients)
            if (other.overlaps(v.dns_clients[j]))
              error(src.dns_clients[j], "vpcs.dns_clients: " + quote(to_string(v.dns_clients[j])) + " overlaps " +
                                            quote(to_string(other)) + " of vpc " + quote(cfg_.vpcs[k].id));
      for (size_t j = 0; j < v.dns_listen.size(); ++j) {
        const HostPort& hp = v.dns_listen[j];
        if (std::find(cfg_.server.dns_listen.begin(), cfg_.server.dns_listen.end(), hp) !=
            cfg_.server.dns_listen.end())
          error(src.dns_listen[j], "vpcs.dns_listen: " + quote(to_string(hp)) +
                                       " is also in server.dns_listen; a listen address belongs to one view");
        else if (auto [it, fresh] = listen_owner.emplace(hp, i); !fresh)
          error(src.dns_listen[j], "vpcs.dns_listen: " + quote(to_string(hp)) + " is already a dns_listen address of vpc " +
                                       quote(cfg_.vpcs[it->second].id));
      }
    }
  }

  const ServiceConfig* service_of(const EndpointConfig& ep) const {
    if (auto it = service_by_name_.find(ep.service); it != service_by_name_.end()) return &cfg_.services[it->second];
    if (auto it = service_by_id_.find(ep.service); it != service_by_id_.end()) return &cfg_.services[it->second];
    return nullptr;
  }

  static bool principal_allowed(std::string_view principal, const std::vector<std::string>& allowed) {
    // The account's root stands for every principal of that account (IAM's trust semantics).
    std::string root;
    if (kPrincipal(principal))  // arn:aws:iam::ACCOUNT:…
      root = std::string("arn:aws:iam::").append(principal.substr(13, 12)).append(":root");
    for (const std::string& a : allowed)
      if (a == "*" || a == principal || (!root.empty() && a == root)) return true;
    return false;
  }

  static bool private_dns_on(const EndpointConfig& ep, const ServiceConfig& s) {
    return s.private_dns_name && ep.private_dns_enabled.value_or(true);
  }

  void check_endpoints() {
    std::map<std::string, SourcePos> first_name, first_id;
    std::map<Ipv4, std::string> pinned_by;  // address → endpoint name
    for (size_t i = 0; i < cfg_.endpoints.size(); ++i) {
      const EndpointConfig& ep = cfg_.endpoints[i];
      const EndpointSrc& src = endpoint_src_[i];
      unique(endpoint_by_name_, first_name, ep.name, i, src.name, "endpoint name");
      if (ep.id) unique(endpoint_by_id_, first_id, *ep.id, i, src.id, "endpoint id");

      const VpcConfig* vpc = nullptr;
      if (!ep.vpc.empty()) {
        if (auto it = vpc_by_id_.find(ep.vpc); it != vpc_by_id_.end())
          vpc = &cfg_.vpcs[it->second];
        else
          error(src.vpc, "endpoints.vpc: unknown vpc " + quote(ep.vpc) + " (not in [[vpcs]])");
      }
      const ServiceConfig* service = nullptr;
      if (!ep.service.empty()) {
        service = service_of(ep);
        if (!service)
          error(src.service, "endpoints.service: unknown service " + quote(ep.service) +
                                 " (neither a service name nor a pinned service id)");
      }
      const AccountConfig* account = nullptr;
      if (vpc)
        if (auto it = account_by_id_.find(vpc->account); it != account_by_id_.end())
          account = &cfg_.accounts[it->second];

      if (service && !ep.principal.empty() && !principal_allowed(ep.principal, service->allowed_principals)) {
        std::string why = service->allowed_principals.empty() ? " (the list is empty, so nobody is allowed)" : "";
        error(src.principal, "endpoints.principal: " + quote(ep.principal) +
                                 " is not in allowed_principals of service " + quote(service->name) + why);
      }
      if (service && ep.private_dns_enabled == true && !service->private_dns_name)
        error(src.private_dns_enabled, "endpoints.private_dns_enabled: service " + quote(service->name) +
                                           " has no private_dns_name");

      // Subnets: in this VPC, one per AZ, and only in AZs the service has (the common AZs, design §1).
      std::map<std::string, std::string> subnet_in_az;  // AZ name → subnet id
      for (size_t j = 0; j < ep.subnets.size(); ++j) {
        const std::string_view id = ep.subnets[j];
        auto it = subnet_by_id_.find(id);
        if (it == subnet_by_id_.end()) {
          error(src.subnets[j], "endpoints.subnets: unknown subnet " + quote(id) + " (not in any vpcs.subnets)");
          continue;
        }
        const VpcConfig& owner = cfg_.vpcs[it->second.first];
        if (!vpc) continue;
        if (&owner != vpc) {
          error(src.subnets[j], "endpoints.subnets: subnet " + quote(id) + " is in vpc " + quote(owner.id) +
                                    ", not in the endpoint's vpc " + quote(vpc->id));
          continue;
        }
        const SubnetConfig& sn = owner.subnets[it->second.second];
        if (sn.az.empty()) continue;
        if (auto [prev, fresh] = subnet_in_az.emplace(sn.az, id); !fresh) {
          error(src.subnets[j], "endpoints.subnets: subnets " + quote(prev->second) + " and " + quote(id) +
                                    " are both in " + quote(sn.az) + "; an endpoint takes one subnet per AZ");
          continue;
        }
        if (!service || !account || service->azs.empty()) continue;
        auto az = account->az_names.find(sn.az);
        if (az == account->az_names.end()) continue;  // reported with the subnet
        if (std::find(service->azs.begin(), service->azs.end(), az->second) == service->azs.end()) {
          std::string list;
          for (const std::string& a : service->azs) list += (list.empty() ? "" : ", ") + a;
          error(src.subnets[j], "endpoints.subnets: subnet " + quote(id) + " is in " + quote(sn.az) + " (" +
                                    az->second + " for account " + quote(account->id) + "), which service " +
                                    quote(service->name) + " does not offer (its azs: " + list + ")");
        }
      }

      // Pinned ENI addresses: usable addresses of the endpoint's own subnets, each pinned once.
      for (const auto& [subnet, key_pos] : src.address_key) {
        if (std::find(ep.subnets.begin(), ep.subnets.end(), subnet) == ep.subnets.end()) {
          error(key_pos, "endpoints.addresses: " + quote(subnet) + " is not one of the endpoint's subnets");
          continue;
        }
        const Ipv4* addr = ep.pinned(subnet);
        if (!addr) continue;  // a bad address, reported
        const SourcePos& at = src.address_value.at(subnet);
        const std::string shown = quote(to_string(*addr));
        if (auto it = subnet_by_id_.find(subnet); it != subnet_by_id_.end()) {
          const SubnetConfig& sn = cfg_.vpcs[it->second.first].subnets[it->second.second];
          if (vpc_src_[it->second.first].subnets[it->second.second].cidr_ok) {
            uint32_t a = addr->value;
            if (!sn.cidr.contains(IpAddr::from_v4(*addr))) {
              error(at, "endpoints.addresses: " + shown + " is outside subnet " + quote(subnet) + " (" +
                            to_string(sn.cidr) + ")");
              continue;
            }
            // AWS reserves the network address, the next three and the last address of every subnet.
            if (a - sn.cidr.first_v4() < 4 || a == sn.cidr.last_v4()) {
              error(at, "endpoints.addresses: " + shown + " is reserved in subnet " + quote(subnet) + " (" +
                            to_string(sn.cidr) + "): the first four addresses and the last one are not usable");
              continue;
            }
          }
        }
        if (auto [it, fresh] = pinned_by.emplace(*addr, ep.name); !fresh)
          error(at, "endpoints.addresses: " + shown + " is already pinned by endpoint " + quote(it->second));
      }
    }
  }

  // services.accepted / rejected name endpoints of that service, by name or pinned id.
  void check_decisions() {
    auto endpoint_named = [&](const std::string& key) -> const EndpointConfig* {
      if (auto it = endpoint_by_name_.find(key); it != endpoint_by_name_.end()) return &cfg_.endpoints[it->second];
      if (auto it = endpoint_by_id_.find(key); it != endpoint_by_id_.end()) return &cfg_.endpoints[it->second];
      return nullptr;
    };
    for (size_t i = 0; i < cfg_.services.size(); ++i) {
      const ServiceConfig& s = cfg_.services[i];
      const ServiceSrc& src = service_src_[i];
      std::set<const EndpointConfig*> accepted;
      auto check = [&](const std::vector<std::string>& list, const std::vector<SourcePos>& positions,
                       const char* key) {
        for (size_t j = 0; j < list.size(); ++j) {
          const EndpointConfig* ep = endpoint_named(list[j]);
          if (!ep || service_of(*ep) != &s) {
            error(positions[j], std::string("services.") + key + ": " + quote(list[j]) +
                                    " names no endpoint of service " + quote(s.name));
            continue;
          }
          if (key == std::string_view("accepted"))
            accepted.insert(ep);
          else if (accepted.count(ep))
            error(positions[j], "services.rejected: endpoint " + quote(ep->name) +
                                    " is both accepted and rejected by service " + quote(s.name));
        }
      };
      check(s.accepted, src.accepted, "accepted");
      check(s.rejected, src.rejected, "rejected");
    }
  }

  // One VPC view cannot answer a private name for two endpoints (design §3).
  // Two endpoints in one VPC may not enable overlapping private DNS names: names some query is answered by
  // both, or that would create two private zones with one apex ("*.d" has apex d, design §5; one view cannot
  // hold two zones at one apex). That is: the same domain (the name, or d of "*.d"), or a "*.d" and a name
  // strictly below d. Each endpoint
  // is checked against the earlier ones through indexes per VPC — by domain (the name, or d of "*.d"), by
  // wildcard domain, and by every strict ancestor of a domain — so a config with many endpoints per VPC costs
  // lookups, not a comparison of every pair. The error names the first earlier endpoint that overlaps.
  void check_private_dns() {
    struct Seen {
      std::unordered_map<std::string_view, size_t> domain, wildcard, ancestor;  // → first endpoint index
    };
    std::unordered_map<std::string_view, Seen> by_vpc;
    const auto ancestors = [](std::string_view d, auto&& f) {
      for (size_t dot = d.find('.'); dot != std::string_view::npos; dot = d.find('.', dot + 1)) f(d.substr(dot + 1));
    };
    for (size_t i = 0; i < cfg_.endpoints.size(); ++i) {
      const EndpointConfig& ep = cfg_.endpoints[i];
      const ServiceConfig* s = service_of(ep);
      if (!s || ep.vpc.empty() || !private_dns_on(ep, *s)) continue;
      const DnsPattern p = dns_pattern(*s->private_dns_name);
      Seen& seen = by_vpc[ep.vpc];
      size_t first = cfg_.endpoints.size();
      const auto take = [&first](const std::unordered_map<std::string_view, size_t>& m, std::string_view key) {
        if (auto it = m.find(key); it != m.end()) first = std::min(first, it->second);
      };
      take(seen.domain, p.domain);                                          // the same domain or apex
      ancestors(p.domain, [&](std::string_view a) { take(seen.wildcard, a); });  // an earlier "*.a" covers it
      if (p.wildcard) take(seen.ancestor, p.domain);                        // an earlier name below d
      seen.domain.emplace(p.domain, i);
      if (p.wildcard) seen.wildcard.emplace(p.domain, i);
      ancestors(p.domain, [&](std::string_view a) { seen.ancestor.emplace(a, i); });
      if (first == cfg_.endpoints.size()) continue;
      const EndpointConfig& other = cfg_.endpoints[first];
      const ServiceConfig* os = service_of(other);
      std::string names = *s->private_dns_name == *os->private_dns_name
                              ? "the same private DNS name " + quote(*s->private_dns_name)
                              : "overlapping private DNS names " + quote(*s->private_dns_name) + " and " +
                                    quote(*os->private_dns_name);
      error(endpoint_src_[i].service, "endpoints " + quote(other.name) + " and " + quote(ep.name) + " in vpc " +
                                          quote(ep.vpc) + " both enable " + names +
                                          " (set private_dns_enabled = false on one)");
    }
  }

  void check_transfer_keys() {
    std::map<std::string, size_t, std::less<>> by_name;
    std::map<std::string, SourcePos> first;
    for (size_t i = 0; i < cfg_.transfer.keys.size(); ++i) {
      const TsigKeyConfig& k = cfg_.transfer.keys[i];
      unique(by_name, first, k.name, i, key_src_[i].name, "transfer key name");
      if (!k.view.empty() && !vpc_by_id_.count(k.view))
        error(key_src_[i].view, "transfer.keys.view: unknown vpc " + quote(k.view) + " (not in [[vpcs]])");
    }
    for (size_t i = 0; i < cfg_.transfer.secondaries.size(); ++i) {
      const std::string& key = cfg_.transfer.secondaries[i].key;
      if (!key.empty() && !by_name.count(key))
        error(secondary_key_pos_[i], "transfer.secondaries.key: unknown key " + quote(key) + " (not in transfer.keys)");
    }
  }

  fs::path path_;     // as given
  FileName file_;  // as printed in diagnostics; every position of this load shares it
  fs::path base_dir_;
  Diagnostics& diags_;
  const StateDirKnown& on_state_dir_;
  Config cfg_;
  std::vector<AccountSrc> account_src_;
  std::vector<ServiceSrc> service_src_;
  std::vector<VpcSrc> vpc_src_;
  std::vector<EndpointSrc> endpoint_src_;
  std::vector<KeySrc> key_src_;
  std::vector<SourcePos> secondary_key_pos_;  // per transfer.secondaries entry
  std::map<std::string, size_t, std::less<>> account_by_id_, service_by_name_, service_by_id_, vpc_by_id_,
      endpoint_by_name_, endpoint_by_id_;
  std::map<std::string, std::pair<size_t, size_t>, std::less<>> subnet_by_id_;  // → (vpc index, subnet index)
};

}  // namespace

std::string_view StringPool::intern(std::string_view s) {
  if (auto it = index_.find(s); it != index_.end()) return *it;
  const std::string& kept = strings_.emplace_back(s);
  index_.insert(kept);
  return kept;
}

std::span<const std::string_view> StringPool::intern_list(const std::vector<std::string_view>& list) {
  if (list.empty()) return {};
  if (auto it = list_index_.find(list); it != list_index_.end()) return it->second;
  const auto& kept = lists_.emplace_back(list);
  const std::span<const std::string_view> view(kept);
  list_index_.emplace(list, view);
  return view;
}

std::optional<Config> load_config_text(std::string_view text, const std::filesystem::path& file, Diagnostics& diags,
                                       const StateDirKnown& on_state_dir) {
  auto config = Loader(file, diags, on_state_dir).load(text);
  if (config) config->text_hash = std::hash<std::string_view>{}(text);
  return config;
}

std::optional<Config> load_config(const std::filesystem::path& file, Diagnostics& diags,
                                  const StateDirKnown& on_state_dir) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    diags.error({file.string(), 0, 0}, "cannot read config file: " + std::string(std::strerror(errno)));
    return std::nullopt;
  }
  // A bound on what we read: `-c /dev/zero` or a runaway generator must not make vpced (or a reload) allocate
  // without end. 64 MiB holds a few hundred thousand endpoints (docs/secondaries.md transfers 100,000); the text
  // is read in chunks, so a small config costs a small buffer.
  constexpr size_t kMaxConfigBytes = size_t{64} << 20;
  std::string text;
  char chunk[65536];
  while (in && text.size() <= kMaxConfigBytes) {
    in.read(chunk, sizeof chunk);
    text.append(chunk, static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) {
    diags.error({file.string(), 0, 0}, "cannot read config file: " + std::string(std::strerror(errno)));
    return std::nullopt;
  }
  if (text.size() > kMaxConfigBytes) {
    diags.error({file.string(), 0, 0}, "config file is larger than 64 MiB");
    return std::nullopt;
  }
  return load_config_text(text, file, diags, on_state_dir);
}

}  // namespace vpced::zones
