// vpcectl: the command-line client of a running vpced's admin HTTP API (docs/admin-api.md, design §8).
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "cmd/http_client.hpp"

namespace {

using nlohmann::json;
using vpced::cmd::AdminAddress;
using vpced::cmd::HttpOutcome;
using vpced::cmd::HttpResult;

// Exit statuses, as nsd-control and unbound-control use them: 3 tells scripts the daemon is not there.
constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitNotRunning = 3;

constexpr std::chrono::seconds kTimeout{5};

// Thrown once the reason has been printed; main() turns it into the exit status.
struct Exit {
  int status;
};

[[noreturn]] void fail(int status, const std::string& message) {
  std::cerr << "vpcectl: " << message << "\n";
  throw Exit{status};
}

struct Client {
  AdminAddress admin;

  // The answer to `method target`, of any HTTP status; exits 3 when vpced does not answer.
  HttpResult request(std::string_view method, const std::string& target) const {
    HttpResult r = vpced::cmd::http_request(admin, method, target, kTimeout);
    if (r.outcome == HttpOutcome::Unreachable)
      fail(kExitNotRunning, "vpced is not running at " + to_string(admin) + " (" + r.error + ")");
    if (r.outcome == HttpOutcome::Failed)
      fail(kExitError, std::string(method) + " " + target + " to " + to_string(admin) + ": " + r.error);
    return r;
  }
};

// The {"error": "..."} of an error answer, else its body as text.
std::string error_text(const HttpResult& r) {
  json j = json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_string()) return j["error"].get<std::string>();
  std::string body = r.body;
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
  return body.empty() ? "(empty body)" : body;
}

[[noreturn]] void http_error(std::string_view method, const std::string& target, const HttpResult& r) {
  fail(kExitError, std::string(method) + " " + target + ": HTTP " + std::to_string(r.status) +
                       (r.reason.empty() ? "" : " " + r.reason) + ": " + error_text(r));
}

json parse_json(std::string_view method, const std::string& target, const HttpResult& r) {
  json j = json::parse(r.body, nullptr, false);
  if (j.is_discarded()) fail(kExitError, std::string(method) + " " + target + ": the answer is not JSON");
  return j;
}

// A field as text, "?" when absent, tolerating numbers and strings alike.
std::string text(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return "?";
  const json& v = j[key];
  return v.is_string() ? v.get<std::string>() : v.dump();
}

std::string duration_text(long long s) {
  if (s < 0) return "?";
  std::string out;
  const std::pair<long long, const char*> units[] = {{86400, "d"}, {3600, "h"}, {60, "m"}};
  for (auto [size, unit] : units)
    if (s >= size || !out.empty()) out += std::to_string(s / size) + unit, s %= size;
  return out + std::to_string(s) + "s";
}

std::string joined(const json& array, const std::string& separator) {
  std::string out;
  if (!array.is_array()) return out;
  for (const json& e : array) out += (out.empty() ? "" : separator) + (e.is_string() ? e.get<std::string>() : e.dump());
  return out;
}

// ---- subcommands ----

int cmd_status(const Client& c) {
  const std::string target = "/v1/status";
  HttpResult r = c.request("GET", target);
  if (r.status != 200) http_error("GET", target, r);
  json s = parse_json("GET", target, r);

  std::cout << "vpced " << text(s, "version") << " at " << to_string(c.admin) << ", pid " << text(s, "pid");
  if (s.contains("uptime_seconds") && s["uptime_seconds"].is_number_integer())
    std::cout << ", up " << duration_text(s["uptime_seconds"].get<long long>());
  std::cout << "\n";
  std::cout << "config:      " << text(s, "config") << "\n";
  std::cout << "zone:        " << text(s, "zone") << ", serial " << text(s, "serial") << "\n";
  std::cout << "generation:  " << text(s, "generation") << "\n";
  std::cout << "dns listen:  " << (s.contains("dns_listen") ? joined(s["dns_listen"], ", ") : "?") << "\n";

  long long endpoints = 0;
  std::string by_state;
  if (s.contains("endpoints") && s["endpoints"].is_object()) {
    // AWS's lifecycle order first, then any other state the daemon reports.
    std::vector<std::string> order = {"available", "pendingAcceptance", "rejected"};
    for (const auto& [state, n] : s["endpoints"].items())
      if (std::find(order.begin(), order.end(), state) == order.end()) order.push_back(state);
    for (const std::string& state : order) {
      if (!s["endpoints"].contains(state) || !s["endpoints"][state].is_number_integer()) continue;
      long long n = s["endpoints"][state].get<long long>();
      endpoints += n;
      by_state += (by_state.empty() ? "" : ", ") + std::to_string(n) + " " + state;
    }
  }
  std::cout << "objects:     " << text(s, "services") << " services, " << text(s, "vpcs") << " vpcs, " << endpoints
            << " endpoints" << (by_state.empty() ? "" : " (" + by_state + ")") << "\n";

  const json last = s.contains("last_reload") ? s["last_reload"] : json();
  if (!last.is_object()) {
    std::cout << "last reload: never\n";
  } else {
    bool ok = last.contains("ok") && last["ok"].is_boolean() && last["ok"].get<bool>();
    std::cout << "last reload: " << text(last, "time") << (ok ? ", ok" : ", FAILED (still serving the previous config)")
              << "\n";
    if (last.contains("errors") && last["errors"].is_array())
      for (const json& e : last["errors"]) std::cout << "  " << (e.is_string() ? e.get<std::string>() : e.dump()) << "\n";
  }
  return kExitOk;
}

int cmd_reload(const Client& c) {
  const std::string target = "/v1/reload";
  HttpResult r = c.request("POST", target);
  if (r.status == 422) {
    json j = parse_json("POST", target, r);
    if (j.contains("errors") && j["errors"].is_array())
      for (const json& e : j["errors"]) std::cerr << (e.is_string() ? e.get<std::string>() : e.dump()) << "\n";
    fail(kExitError, "reload failed; vpced keeps serving the previous config");
  }
  if (r.status != 200) http_error("POST", target, r);
  json j = parse_json("POST", target, r);
  bool changed = !(j.contains("changed") && j["changed"].is_boolean() && !j["changed"].get<bool>());
  std::cout << "reloaded: serial " << text(j, "serial") << ", generation " << text(j, "generation")
            << (changed ? "" : " (no change)") << "\n";
  return kExitOk;
}

int cmd_describe(const Client& c, bool as_json) {
  const std::string target = as_json ? "/v1/describe" : "/v1/describe?format=text";
  HttpResult r = c.request("GET", target);
  if (r.status != 200) http_error("GET", target, r);
  if (as_json) {
    std::cout << parse_json("GET", target, r).dump(2) << "\n";
  } else {
    std::cout << r.body;
    if (!r.body.empty() && r.body.back() != '\n') std::cout << "\n";
  }
  return kExitOk;
}

struct ExplainArgs {
  std::string name;
  std::string from;
  std::string type;
  bool json = false;
};

void print_records(const char* title, const json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_array() || j[key].empty()) return;
  std::cout << title << "\n";
  for (const json& rr : j[key]) std::cout << "  " << (rr.is_string() ? rr.get<std::string>() : rr.dump()) << "\n";
}

int cmd_explain(const Client& c, const ExplainArgs& a) {
  std::string target = "/v1/explain?name=" + vpced::cmd::url_encode(a.name);
  if (!a.from.empty()) target += "&from=" + vpced::cmd::url_encode(a.from);
  if (!a.type.empty()) target += "&type=" + vpced::cmd::url_encode(a.type);
  HttpResult r = c.request("GET", target);
  if (r.status != 200) http_error("GET", target, r);
  json e = parse_json("GET", target, r);
  if (a.json) {
    std::cout << e.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << "query: " << text(e, "name") << " " << text(e, "type") << " from " << text(e, "from") << "\n";
  std::cout << "view: " << text(e, "view") << "\n";
  if (e.contains("view_reason") && e["view_reason"].is_string())
    std::cout << "  because " << e["view_reason"].get<std::string>() << "\n";
  std::cout << "zone: "
            << (e.contains("zone") && e["zone"].is_string() ? e["zone"].get<std::string>()
                                                            : "none (no zone of this view holds the name)")
            << "\n";
  std::cout << "result: " << text(e, "result") << " (" << text(e, "rcode") << ")\n";
  print_records("answer:", e, "answer");
  print_records("authority:", e, "authority");
  if (e.contains("reasons") && e["reasons"].is_array() && !e["reasons"].empty()) {
    std::cout << "why:\n";
    for (const json& why : e["reasons"]) std::cout << "  - " << (why.is_string() ? why.get<std::string>() : why.dump()) << "\n";
  }
  return kExitOk;
}

// GET or POST /v1/services/SERVICE/verify: the verification record of a service's private DNS name.
int cmd_verify(const Client& c, const std::string& action, const std::string& service, bool as_json) {
  const std::string target = "/v1/services/" + vpced::cmd::url_encode(service) + "/verify";
  HttpResult r = c.request(action == "start" ? "POST" : "GET", target);
  if (r.status == 404 || r.status == 400) fail(kExitError, error_text(r));
  if (r.status != 200 && r.status != 202) http_error(action == "start" ? "POST" : "GET", target, r);
  json v = parse_json("GET", target, r);
  if (as_json) {
    std::cout << v.dump(2) << "\n";
    return kExitOk;
  }
  if (action == "start") std::cout << "checked " << text(v, "service") << " now\n";
  std::cout << "service " << text(v, "service") << " (" << text(v, "service_id") << "), private DNS name "
            << text(v, "private_dns_name") << "\n";
  std::cout << "state: " << text(v, "state");
  if (v.contains("since") && v["since"].is_string() && !v["since"].get<std::string>().empty())
    std::cout << " since " << text(v, "since");
  if (v.contains("last_check") && v["last_check"].is_string() && !v["last_check"].get<std::string>().empty())
    std::cout << ", last checked " << text(v, "last_check");
  std::cout << "\n\npublish this record in the public zone of " << text(v, "domain")
            << " (or of a parent domain, down to two labels):\n  " << text(v, "zone_file_line") << "\n";
  std::cout << "\ncheck it from here against your authoritative server:\n  " << text(v, "dig") << "\n";
  if (v.contains("reasons") && v["reasons"].is_array() && !v["reasons"].empty()) {
    std::cout << "\nlast check:\n";
    for (const json& why : v["reasons"]) std::cout << "  - " << (why.is_string() ? why.get<std::string>() : why.dump()) << "\n";
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vpcectl: control and inspect a running vpced through its admin HTTP API", "vpcectl"};
  app.set_version_flag("--version", "vpcectl " VPCED_VERSION, "Print the version and exit");
  app.require_subcommand(1);
  app.footer("Exit status: 0 ok, 1 error (answer or HTTP error), 2 usage, 3 vpced not running at ADDR.\n"
             "See docs/vpcectl.8.md and docs/admin-api.md.");

  std::string admin_text = "127.0.0.1:8053";
  app.add_option("--admin", admin_text, "Admin API address of vpced: IP:PORT or [IPv6]:PORT")
      ->envname("VPCED_ADMIN")
      ->capture_default_str();

  app.add_subcommand("status", "Summary of the running daemon: version, zone, serial, endpoints, last reload");
  app.add_subcommand("reload", "Re-read the config file (like SIGHUP) and report the new serial, or the errors");
  auto* describe = app.add_subcommand("describe", "Services and endpoints of the live config, as vpced describe");
  bool describe_json = false;
  describe->add_flag("--json", describe_json, "AWS-shaped JSON (ServiceConfigurations, VpcEndpoints)");
  auto* explain = app.add_subcommand("explain", "How vpced would answer a DNS query, and why");
  ExplainArgs explain_args;
  explain->add_option("NAME", explain_args.name, "The name to explain")->required();
  explain->add_option("--from", explain_args.from, "Client address the query comes from (default 127.0.0.1)");
  explain->add_option("--type", explain_args.type, "Query type (default A)");
  explain->add_flag("--json", explain_args.json, "Print the daemon's JSON explanation as it is");

  auto* verify = app.add_subcommand("verify", "Private DNS name verification of a service (TXT ownership proof)");
  verify->require_subcommand(1);
  std::string verify_service;
  bool verify_json = false;
  for (auto [sub_name, help] : {std::pair{"show", "State, the record to publish, a dig command, the last check's findings"},
                                std::pair{"start", "Check now; a failed name goes back to pendingVerification"}}) {
    auto* sub = verify->add_subcommand(sub_name, help);
    sub->add_option("SERVICE", verify_service, "Service name (from the config) or service ID")->required();
    sub->add_flag("--json", verify_json, "Print the daemon's JSON as it is");
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int status = app.exit(e);  // prints help, the version, or the error
    return status == 0 ? kExitOk : kExitUsage;
  }

  Client client;
  if (auto a = vpced::cmd::parse_admin_address(admin_text)) {
    client.admin = *a;
  } else {
    std::cerr << "vpcectl: --admin '" << admin_text << "': expected IP:PORT or [IPv6]:PORT\n";
    return kExitUsage;
  }

  try {
    const CLI::App* sub = app.get_subcommands().front();
    const std::string& name = sub->get_name();
    if (name == "status") return cmd_status(client);
    if (name == "reload") return cmd_reload(client);
    if (name == "describe") return cmd_describe(client, describe_json);
    if (name == "explain") return cmd_explain(client, explain_args);
    if (name == "verify") return cmd_verify(client, sub->get_subcommands().front()->get_name(), verify_service, verify_json);
  } catch (const Exit& e) {
    return e.status;
  }
  return kExitUsage;
}
