#include "mmtp/moment_basis.hpp"

#include "mmtp/error.hpp"

#include <fmt/core.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <map>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace mmtp {
namespace {

using Comp = std::array<int, 3>;  // powers of x, y, z of one symmetric index group

/// Components of a symmetric group of `s` indices in MLIP-3's order: {s,0,0}, {s−1,1,0}, ….
std::vector<Comp> group_components(int s) {
  std::vector<Comp> out;
  for (int a = s; a >= 0; --a)
    for (int b = s - a; b >= 0; --b) out.push_back({a, b, s - a - b});
  return out;
}

/// Position of `c` in group_components(a + b + c): the groups with a larger power of x come first.
int component_index(const Comp& c) {
  const int s = c[0] + c[1] + c[2], a = c[0];
  return (s - a) * (s - a + 1) / 2 + (s - a - c[1]);
}

/// (p+q+r)! / (p! q! r!), built as a product of binomials (exact in integers).
int multinomial(const Comp& c) {
  int out = 1, k = 0;
  for (int t = 0; t < 3; ++t)
    for (int i = 1; i <= c[static_cast<std::size_t>(t)]; ++i) out = out * (++k) / i;
  return out;
}

struct Tensor {
  int mu, nu;
  bool operator<(const Tensor& o) const { return std::make_pair(mu, nu) < std::make_pair(o.mu, o.nu); }
  bool operator==(const Tensor& o) const { return mu == o.mu && nu == o.nu; }
  int level() const { return 2 + 4 * mu + nu; }
};

/// A contraction graph: tensors (sorted) and edge multiplicities e[a][b].
struct Graph {
  std::vector<Tensor> t;
  std::array<std::array<int, 4>, 4> e{};
};

/// Every distinct full contraction of 1..4 tensors with total level ≤ L, in a fixed order.
std::vector<Graph> contraction_graphs(int L) {
  std::vector<Tensor> tensors;
  for (int mu = 0; 2 + 4 * mu <= L; ++mu)
    for (int nu = 0; 2 + 4 * mu + nu <= L; ++nu) tensors.push_back({mu, nu});
  std::vector<Graph> out;
  for (int f = 1; f <= 4; ++f) {
    std::vector<std::size_t> pick(static_cast<std::size_t>(f), 0);
    while (true) {
      Graph g;
      int lev = 0;
      for (auto p : pick) g.t.push_back(tensors[p]), lev += tensors[p].level();
      if (lev <= L) {
        std::vector<std::pair<int, int>> pairs;
        for (int a = 0; a < f; ++a)
          for (int b = a + 1; b < f; ++b) pairs.emplace_back(a, b);
        std::vector<std::vector<int>> perms;  // label-preserving vertex permutations
        std::vector<int> perm(static_cast<std::size_t>(f));
        std::iota(perm.begin(), perm.end(), 0);
        do {
          bool ok = true;
          for (int i = 0; i < f; ++i) ok = ok && g.t[static_cast<std::size_t>(perm[static_cast<std::size_t>(i)])] == g.t[static_cast<std::size_t>(i)];
          if (ok) perms.push_back(perm);
        } while (std::next_permutation(perm.begin(), perm.end()));
        std::map<std::vector<int>, bool> seen;
        std::vector<int> deg;
        for (const auto& t : g.t) deg.push_back(t.nu);
        std::vector<int> mult(pairs.size(), 0);
        // Depth-first over the multiplicity of each vertex pair.
        auto rec = [&](auto&& self, std::size_t p) -> void {
          if (p == pairs.size()) {
            if (std::any_of(deg.begin(), deg.end(), [](int d) { return d != 0; })) return;
            std::vector<int> best;
            for (const auto& pm : perms) {
              std::vector<int> key;
              for (const auto& [a, b] : pairs) {
                int x = pm[static_cast<std::size_t>(a)], y = pm[static_cast<std::size_t>(b)];
                if (x > y) std::swap(x, y);
                key.push_back(mult[static_cast<std::size_t>(std::find(pairs.begin(), pairs.end(), std::make_pair(x, y)) - pairs.begin())]);
              }
              if (best.empty() || key < best) best = key;
            }
            if (seen.emplace(best, true).second) {
              Graph h = g;
              for (std::size_t q = 0; q < pairs.size(); ++q) {
                h.e[static_cast<std::size_t>(pairs[q].first)][static_cast<std::size_t>(pairs[q].second)] = mult[q];
                h.e[static_cast<std::size_t>(pairs[q].second)][static_cast<std::size_t>(pairs[q].first)] = mult[q];
              }
              out.push_back(h);
            }
            return;
          }
          auto& da = deg[static_cast<std::size_t>(pairs[p].first)];
          auto& db = deg[static_cast<std::size_t>(pairs[p].second)];
          for (int m = 0; m <= std::min(da, db); ++m) {
            da -= m, db -= m, mult[p] = m;
            self(self, p + 1);
            da += m, db += m;
          }
          mult[p] = 0;
        };
        rec(rec, 0);
      }
      // Next multiset (non-decreasing indices).
      int i = f - 1;
      while (i >= 0 && pick[static_cast<std::size_t>(i)] + 1 == tensors.size()) --i;
      if (i < 0) break;
      const std::size_t v = pick[static_cast<std::size_t>(i)] + 1;
      for (int j = i; j < f; ++j) pick[static_cast<std::size_t>(j)] = v;
    }
  }
  return out;
}

/// Builds moments (basic components first, then intermediates and scalars in creation order).
class Builder {
 public:
  struct Node {
    std::vector<int> groups;  // sizes of the symmetric index groups
    int first = 0;            // moment index of the first component
    int count() const {
      int n = 1;
      for (int s : groups) n *= (s + 1) * (s + 2) / 2;
      return n;
    }
  };
  /// A node of a chain under construction: its key, groups and the graph vertices owning each group.
  struct Partial {
    std::string key;
    std::vector<int> groups;
    std::vector<std::vector<int>> owners;
    bool basic = false;
    // How it was made from [v × right] (not set for a leaf):
    std::vector<int> contraction;  // indices of v contracted with each group of `right`
    int lfree = 0;                 // indices of v left free
    bool merged = false;           // [A × A] with one free index each: one symmetric group of 2
  };

  explicit Builder(const std::vector<Tensor>& basics) {
    int next = 0;
    for (const auto& t : basics) {
      for (const auto& c : group_components(t.nu)) p_.alpha_index_basic.push_back({t.mu, c[0], c[1], c[2]});
      nodes_[basic_key(t)] = Node{{t.nu}, next};
      next += (t.nu + 1) * (t.nu + 2) / 2;
    }
    moments_ = next;
  }

  static std::string basic_key(const Tensor& t) { return fmt::format("M{},{}", t.mu, t.nu); }

  /// The next chain step [v × right]: v contracted with the groups it shares edges with.
  static Partial step(const Graph& g, int v, const Partial& right) {
    const auto& tv = g.t[static_cast<std::size_t>(v)];
    Partial out;
    out.lfree = tv.nu;
    std::vector<int> rem;
    for (std::size_t k = 0; k < right.groups.size(); ++k) {
      int c = 0;
      for (int w : right.owners[k]) c += g.e[static_cast<std::size_t>(v)][static_cast<std::size_t>(w)];
      out.contraction.push_back(c);
      out.lfree -= c;
      rem.push_back(right.groups[k] - c);
    }
    out.key = fmt::format("[{}|{}|{}]", basic_key(tv), right.key, fmt::join(out.contraction, ","));
    if (right.basic && g.t[static_cast<std::size_t>(right.owners[0][0])] == tv && out.lfree == 1 && rem[0] == 1) {
      out.groups = {2};  // Σ_k A_ik A_jk is symmetric in (i, j)
      out.owners = {{v, right.owners[0][0]}};
      out.merged = true;
      return out;
    }
    if (out.lfree > 0) out.groups.push_back(out.lfree), out.owners.push_back({v});
    for (std::size_t k = 0; k < rem.size(); ++k)
      if (rem[k] > 0) out.groups.push_back(rem[k]), out.owners.push_back(right.owners[k]);
    return out;
  }

  static Partial leaf(const Graph& g, int v) {
    Partial out;
    out.key = basic_key(g.t[static_cast<std::size_t>(v)]);
    out.groups = {g.t[static_cast<std::size_t>(v)].nu};
    out.owners = {{v}};
    out.basic = true;
    return out;
  }

  /// Components a chain over `order` would add (0 when every node exists).
  int cost(const Graph& g, const std::vector<int>& order) const {
    Partial cur = leaf(g, order.back());
    int added = 0;
    for (int i = static_cast<int>(order.size()) - 2; i >= 0; --i) {
      cur = step(g, order[static_cast<std::size_t>(i)], cur);
      if (!nodes_.count(cur.key)) added += Node{cur.groups, 0}.count();
    }
    return added;
  }

  /// Builds the chain over `order` and returns the key of its scalar.
  std::string chain(const Graph& g, const std::vector<int>& order) {
    Partial cur = leaf(g, order.back());
    for (int i = static_cast<int>(order.size()) - 2; i >= 0; --i) {
      const int v = order[static_cast<std::size_t>(i)];
      Partial next = step(g, v, cur);
      if (!nodes_.count(next.key)) emit_contraction(g, v, cur, next);
      cur = std::move(next);
    }
    return cur.key;
  }

  /// The product of two scalars.
  std::string product(const std::string& a, const std::string& b) {
    const std::string key = "(" + a + "*" + b + ")";
    if (!nodes_.count(key)) {
      nodes_[key] = Node{{}, moments_};
      p_.alpha_index_times.push_back({nodes_.at(a).first, nodes_.at(b).first, 1, moments_});
      ++moments_;
    }
    return key;
  }

  int index(const std::string& key) const { return nodes_.at(key).first; }
  MtpParameters finish() && {
    p_.alpha_moments_count = moments_;
    return std::move(p_);
  }

 private:
  /// alpha_index_times of [v × right]: for each result component, the sum over the contracted
  /// index multisets (p,q,r) per right group, with multiplicity Π multinomial(c_g; p,q,r).
  void emit_contraction(const Graph& g, int v, const Partial& right, const Partial& result) {
    const Node& rn = nodes_.at(right.key);
    const Node& ln = nodes_.at(basic_key(g.t[static_cast<std::size_t>(v)]));
    const int k0 = moments_;
    const Node node{result.groups, k0};
    const std::vector<int>& c = result.contraction;
    // Enumerate the result's components group by group.
    std::vector<std::vector<Comp>> lists;
    for (int s : result.groups) lists.push_back(group_components(s));
    std::vector<std::size_t> at(lists.size(), 0);
    for (int k = 0; k < node.count(); ++k) {
      Comp lcomp{0, 0, 0};
      std::vector<Comp> rfree(right.groups.size(), Comp{0, 0, 0});
      if (result.merged) {
        const Comp& m = lists[0][at[0]];
        const int first = m[0] > 0 ? 0 : m[1] > 0 ? 1 : 2;  // the first index goes to the left tensor
        lcomp[static_cast<std::size_t>(first)] = 1;
        rfree[0] = m, rfree[0][static_cast<std::size_t>(first)] -= 1;
      } else {
        std::size_t gi = 0;
        if (result.lfree > 0) lcomp = lists[gi][at[gi]], ++gi;
        for (std::size_t r = 0; r < right.groups.size(); ++r)
          if (right.groups[r] - c[r] > 0) rfree[r] = lists[gi][at[gi]], ++gi;
      }
      // Every split of the contracted indices over the right groups.
      std::vector<std::vector<Comp>> splits;
      for (int x : c) splits.push_back(group_components(x));
      std::vector<std::size_t> sp(splits.size(), 0);
      while (true) {
        Comp l = lcomp;
        int mult = 1, rindex = 0, stride = 1;
        std::vector<int> rparts;
        for (std::size_t r = 0; r < splits.size(); ++r) {
          const Comp& s = splits[r][sp[r]];
          Comp rc = rfree[r];
          for (int t = 0; t < 3; ++t) l[static_cast<std::size_t>(t)] += s[static_cast<std::size_t>(t)],
                                      rc[static_cast<std::size_t>(t)] += s[static_cast<std::size_t>(t)];
          mult *= multinomial(s);
          rparts.push_back(component_index(rc));
        }
        for (int r = static_cast<int>(rparts.size()) - 1; r >= 0; --r) {
          rindex += rparts[static_cast<std::size_t>(r)] * stride;
          stride *= (right.groups[static_cast<std::size_t>(r)] + 1) * (right.groups[static_cast<std::size_t>(r)] + 2) / 2;
        }
        p_.alpha_index_times.push_back({ln.first + component_index(l), rn.first + rindex, mult, k0 + k});
        std::size_t r = 0;
        while (r < sp.size() && ++sp[r] == splits[r].size()) sp[r] = 0, ++r;
        if (r == sp.size()) break;
      }
      for (int r = static_cast<int>(at.size()) - 1; r >= 0; --r) {
        if (++at[static_cast<std::size_t>(r)] < lists[static_cast<std::size_t>(r)].size()) break;
        at[static_cast<std::size_t>(r)] = 0;
      }
    }
    nodes_[result.key] = node;
    moments_ += node.count();
  }

  std::map<std::string, Node> nodes_;
  int moments_ = 0;
  MtpParameters p_;
};

std::vector<std::vector<int>> connected_components(const Graph& g) {
  const int f = static_cast<int>(g.t.size());
  std::vector<int> label(static_cast<std::size_t>(f), -1);
  std::vector<std::vector<int>> out;
  for (int s = 0; s < f; ++s) {
    if (label[static_cast<std::size_t>(s)] >= 0) continue;
    std::vector<int> comp{s}, stack{s};
    label[static_cast<std::size_t>(s)] = static_cast<int>(out.size());
    while (!stack.empty()) {
      const int a = stack.back();
      stack.pop_back();
      for (int b = 0; b < f; ++b)
        if (g.e[static_cast<std::size_t>(a)][static_cast<std::size_t>(b)] > 0 && label[static_cast<std::size_t>(b)] < 0)
          label[static_cast<std::size_t>(b)] = label[static_cast<std::size_t>(s)], comp.push_back(b), stack.push_back(b);
    }
    std::sort(comp.begin(), comp.end());
    out.push_back(comp);
  }
  // Single tensors first (in tensor order), then the larger components, as MLIP-3 nests products.
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return (a.size() > 1) < (b.size() > 1); });
  return out;
}

}  // namespace

MtpParameters moment_tensor_basis(int level) {
  if (level < 2 || level > 28) throw InputError(fmt::format("MTP level {} is not in 2..28", level));
  const auto graphs = contraction_graphs(level);
  std::vector<Tensor> basics;
  for (const auto& g : graphs)
    for (const auto& t : g.t) basics.push_back(t);
  std::sort(basics.begin(), basics.end());
  basics.erase(std::unique(basics.begin(), basics.end()), basics.end());

  Builder b(basics);
  std::vector<int> mapping;
  for (const auto& g : graphs) {
    std::vector<std::string> scalars;
    for (const auto& comp : connected_components(g)) {
      if (comp.size() == 1) {
        scalars.push_back(Builder::basic_key(g.t[static_cast<std::size_t>(comp[0])]));
        continue;
      }
      std::vector<int> order = comp, best = comp;
      int best_cost = -1;
      do {
        const int c = b.cost(g, order);
        if (best_cost < 0 || c < best_cost) best_cost = c, best = order;
      } while (std::next_permutation(order.begin(), order.end()));
      scalars.push_back(b.chain(g, best));
    }
    std::string acc = scalars.back();
    for (int i = static_cast<int>(scalars.size()) - 2; i >= 0; --i) acc = b.product(scalars[static_cast<std::size_t>(i)], acc);
    mapping.push_back(b.index(acc));
  }
  MtpParameters p = std::move(b).finish();
  std::sort(mapping.begin(), mapping.end());
  if (std::adjacent_find(mapping.begin(), mapping.end()) != mapping.end())
    throw std::logic_error("moment_tensor_basis: two basis functions share a moment");
  p.alpha_moment_mapping = mapping;
  p.species_count = 1;
  p.min_dist = 2.0, p.max_dist = 5.0, p.radial_basis_size = 8;  // MLIP-3 templates' placeholders
  p.radial_funcs_count = 1;
  for (const auto& t : basics) p.radial_funcs_count = std::max(p.radial_funcs_count, t.mu + 1);
  return p;
}

}  // namespace mmtp
