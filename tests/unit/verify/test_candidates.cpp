// Candidate domains of a private DNS name (design §6).
#include <catch2/catch.hpp>

#include "verify/candidates.hpp"

using vpced::verify::candidate_domains;
using V = std::vector<std::string>;

TEST_CASE("candidates: the name, then each parent down to two labels") {
  CHECK(candidate_domains("api.example.com") == V{"api.example.com", "example.com"});
  CHECK(candidate_domains("example.com") == V{"example.com"});
  CHECK(candidate_domains("a.b.c.d.example.co.uk") ==
        V{"a.b.c.d.example.co.uk", "b.c.d.example.co.uk", "c.d.example.co.uk", "d.example.co.uk", "example.co.uk",
          "co.uk"});
}

TEST_CASE("candidates: a wildcard drops its *. label") {
  CHECK(candidate_domains("*.example.com") == V{"example.com"});
  CHECK(candidate_domains("*.svc.eu.example.com") == V{"svc.eu.example.com", "eu.example.com", "example.com"});
}

TEST_CASE("candidates: case and a trailing dot are normalised; degenerate names") {
  CHECK(candidate_domains("API.Example.COM.") == V{"api.example.com", "example.com"});
  CHECK(candidate_domains("localhost") == V{"localhost"});
  CHECK(candidate_domains("").empty());
  CHECK(candidate_domains("*.").empty());
}

TEST_CASE("candidates: helpers") {
  using namespace vpced::verify;
  CHECK(parent_domain("a.example.com") == "example.com");
  CHECK(parent_domain("com").empty());
  CHECK(is_at_or_below("a.example.com", "example.com"));
  CHECK(is_at_or_below("example.com", "example.com"));
  CHECK_FALSE(is_at_or_below("badexample.com", "example.com"));
  CHECK_FALSE(is_at_or_below("example.com", "a.example.com"));
  CHECK(label_count("a.b.c") == 3);
  CHECK(label_count("") == 0);
}
