// vpced: the daemon (`run`) and its offline subcommands (`check`, `zone`, `describe`), design §8.
#include <malloc.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cmd/log.hpp"
#include "cmd/daemon.hpp"
#include "zones/describe.hpp"
#include "zones/load.hpp"
#include "zones/records.hpp"

namespace {

using namespace vpced;

constexpr const char* kUsage = R"(usage:
  vpced run -c FILE [--log-format text|json] [--log-level info|warn|error] [--threads N] [--relay-threads N]
            [--query-log]
  vpced check -c FILE
  vpced zone -c FILE [--view VPC-ID]
  vpced describe -c FILE [--json]
)";

struct Args {
  std::string command;
  std::string config;
  std::optional<std::string> view;
  bool json = false;
  cmd::LogFormat log_format = cmd::LogFormat::Text;
  cmd::Level log_level = cmd::Level::Info;
  unsigned threads = 0;
  unsigned relay_threads = 0;
  bool query_log = false;
};

std::optional<Args> parse_args(int argc, char** argv) {
  if (argc < 2) return std::nullopt;
  Args a;
  a.command = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= argc) return std::nullopt;
      return std::string(argv[++i]);
    };
    if (arg == "-c" || arg == "--config") {
      auto v = value();
      if (!v) return std::nullopt;
      a.config = *v;
    } else if (arg == "--view" && a.command == "zone") {
      a.view = value();
      if (!a.view) return std::nullopt;
    } else if (arg == "--json" && a.command == "describe") {
      a.json = true;
    } else if (arg == "--log-format" && a.command == "run") {
      auto v = value();
      if (v == "json") a.log_format = cmd::LogFormat::Json;
      else if (v == "text") a.log_format = cmd::LogFormat::Text;
      else return std::nullopt;
    } else if (arg == "--log-level" && a.command == "run") {
      auto v = value();
      if (v == "info") a.log_level = cmd::Level::Info;
      else if (v == "warn") a.log_level = cmd::Level::Warn;
      else if (v == "error") a.log_level = cmd::Level::Error;
      else return std::nullopt;
    } else if (arg == "--query-log" && a.command == "run") {
      a.query_log = true;
    } else if (arg == "--threads" && a.command == "run") {
      auto v = value();
      if (!v) return std::nullopt;
      a.threads = static_cast<unsigned>(std::stoul(*v));
    } else if (arg == "--relay-threads" && a.command == "run") {
      auto v = value();
      if (!v) return std::nullopt;
      a.relay_threads = static_cast<unsigned>(std::stoul(*v));
    } else {
      std::cerr << "vpced: unknown argument '" << arg << "'\n";
      return std::nullopt;
    }
  }
  if (a.config.empty()) return std::nullopt;
  return a;
}

uint32_t now_unix() { return static_cast<uint32_t>(std::time(nullptr)); }

std::shared_ptr<const zones::Snapshot> load(const std::string& file, bool persist, zones::Diagnostics& diags) {
  zones::LoadOptions options;
  options.persist = persist;
  options.now_unix = now_unix();
  try {
    return zones::load_snapshot(file, options, diags);
  } catch (const std::exception& e) {
    diags.error({file, 0, 0}, e.what());
    return nullptr;
  }
}

int cmd_check(const Args& a) {
  zones::Diagnostics diags;
  auto snap = load(a.config, false, diags);
  if (!snap) {
    std::cerr << diags.format();
    std::cerr << a.config << ": " << diags.items().size() << " error" << (diags.items().size() == 1 ? "" : "s") << "\n";
    return 1;
  }
  const auto& m = snap->model();
  std::map<std::string_view, int> states;
  for (const auto& e : m.endpoints) ++states[zones::to_string(e.state)];
  std::string by_state;
  for (const auto& [s, n] : states) by_state += (by_state.empty() ? "" : ", ") + std::to_string(n) + " " + std::string(s);
  size_t records = 0;
  for (const auto& z : snap->zones(zones::Snapshot::kPublicView)) records += z.records.size();
  std::cout << "ok: " << a.config << ": " << m.services.size() << " services, " << m.config.vpcs.size() << " vpcs, "
            << m.endpoints.size() << " endpoints (" << by_state << "), " << records << " records in zone "
            << m.zone_apex << "\n";
  return 0;
}

int cmd_zone(const Args& a) {
  zones::Diagnostics diags;
  auto snap = load(a.config, true, diags);
  if (!snap) {
    std::cerr << diags.format();
    return 1;
  }
  uint32_t view = zones::Snapshot::kPublicView;
  if (a.view && *a.view != "public") {
    int32_t v = snap->view_index(*a.view);
    if (v < 0) {
      std::cerr << "vpced: no VPC '" << *a.view << "' in " << a.config << "\n";
      return 1;
    }
    // A VPC's view: its private zones (the public zone answers there too; print it without --view).
    view = static_cast<uint32_t>(v);
    if (snap->zones(view).empty()) std::cout << "; view " << *a.view << ": no private zones are live\n";
  }
  for (const auto& z : snap->zones(view)) std::cout << zones::to_master_file(z);
  return 0;
}

int cmd_describe(const Args& a) {
  zones::Diagnostics diags;
  auto snap = load(a.config, true, diags);
  if (!snap) {
    std::cerr << diags.format();
    return 1;
  }
  if (a.json)
    std::cout << zones::describe_json(snap->model()).dump(2) << "\n";
  else
    std::cout << zones::describe_text(snap->model());
  return 0;
}

int cmd_run(const Args& a) {
  cmd::set_log_format(a.log_format);
  cmd::set_log_level(a.log_level);
  cmd::Daemon daemon({a.config, a.threads, a.relay_threads, a.query_log});
  return daemon.run();
}

}  // namespace

int main(int argc, char** argv) {
  // The allocator's policy for a process whose big allocations come in bursts (a config load, a snapshot
  // build) and whose query path allocates nothing (docs/performance.md, "Snapshot build"):
  // - no fastbins: a load frees millions of small blocks (the TOML DOM, presentation-text records, build
  //   tables), which fastbins hold apart until malloc_consolidate walks them all again; without them a
  //   100,000-endpoint load is ~8 % faster at the same peak (a relay connection's blocks are larger than
  //   fastbins take);
  // - blocks of 256 KiB and more mapped on their own and unmapped when freed, and a heap top above 1 MiB
  //   trimmed: glibc's default raises both thresholds after the first big free, after which a build's big
  //   buffers stay resident once freed — in a helper thread's arena, whose top malloc_trim never returns
  //   (100,000 endpoints: RSS at start 455 -> 428 MB, after three reloads ~519 -> ~490 MB).
  mallopt(M_MXFAST, 0);
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
  auto args = parse_args(argc, argv);
  if (!args) {
    std::cerr << kUsage;
    return 2;
  }
  if (args->command == "check") return cmd_check(*args);
  if (args->command == "zone") return cmd_zone(*args);
  if (args->command == "describe") return cmd_describe(*args);
  if (args->command == "run") return cmd_run(*args);
  std::cerr << kUsage;
  return 2;
}
