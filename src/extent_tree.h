// ExtentTree: the free extents of an IovaAllocator, a treap ordered by address in which every
// subtree knows the largest naturally aligned power-of-two block it holds (a private header
// of src/iova_allocator.cc, separate so that its invariants can be tested directly).
//
// Example:
//   extents::ExtentTree tree;
//   tree.add(1, 1000);                                  // granules 1..1000 are free
//   extents::Fit fit;
//   if (tree.find({.size = 8, .align = 8, .limit = 999}, 3, fit)) {
//     tree.carve(fit.node, fit.start, 8, true);         // fit.start == 992
//   }
//   tree.give_back(992, 999);                           // false if it overlaps free space
//
// Coordinates are granule numbers ("pfns"), closed intervals; pfn 0 is never in the tree, so
// lengths never overflow. Sharp edges: not thread-safe (the allocator holds its lock); the
// preconditions stated on add() and carve() are the caller's to keep; find() leaves state
// (the search path) that carve(..., true) consumes, so nothing may change the tree between
// the two.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

namespace iovamap::extents {

constexpr uint32_t kNil = 0;          // node 0 is the tree's sentinel
constexpr unsigned kChunkShift = 12;  // nodes are allocated 4096 at a time
constexpr uint32_t kChunkNodes = 1u << kChunkShift;

inline int floor_log2(uint64_t v) {
  return 63 - std::countl_zero(v);
}

// The largest k such that a block of 2^k granules aligned to 2^k lies inside [first, last].
// Precondition: 1 <= first <= last. An interval of length L >= 2^k holds an aligned block of
// 2^(k-1), so the answer is floor(log2 L) or one less.
inline uint8_t aligned_order(uint64_t first, uint64_t last) {
  const uint64_t length = last - first + 1;  // no overflow: first >= 1
  const int k = floor_log2(length);
  const uint64_t block = uint64_t{1} << k;
  const uint64_t rem = first & (block - 1);
  if (rem == 0) return static_cast<uint8_t>(k);
  const uint64_t start = first + (block - rem);
  if (start < first) return static_cast<uint8_t>(k - 1);  // wrapped past 2^64
  return static_cast<uint8_t>(start - 1 + block <= last ? k : k - 1);
}

// A treap priority derived from the node index (splitmix64 finaliser), so nodes carry none.
inline uint32_t priority(uint32_t index) {
  uint64_t z = index + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return static_cast<uint32_t>(z ^ (z >> 31));
}

// One free extent. `order` is its own aligned_order. `sub` summarises its subtree: one more
// than the largest aligned order in it (0 only for the sentinel, the empty subtree), so that
// "the subtree holds an aligned block of order k" reads `sub > k`. child_sub[d] is child d's
// `sub`, kept here so that a search decides whether to enter a child without loading it.
// child[0] is the left (lower) subtree, child[1] the right one, so that a descent picks its
// next node by a comparison's 0/1 result instead of a branch.
struct Node {
  uint64_t first;
  uint64_t last;
  uint32_t child[2];
  uint32_t prio;  // treap priority: priority(index), kept to save rehashing
  uint8_t order;
  uint8_t sub;
  uint8_t child_sub[2];

  // child[right], read as both children at once and then selected, so that in a descent the
  // next node's address waits for the comparison only, not for a load that depends on it.
  uint32_t pick(bool right) const {
    uint64_t both;
    std::memcpy(&both, child, sizeof both);
    const unsigned high_half = std::endian::native == std::endian::little ? 32 : 0;
    return static_cast<uint32_t>(both >> (right ? high_half : 32 - high_half));
  }
};
static_assert(sizeof(Node) == 32, "metadata bound in the header relies on 32-byte nodes");

// What a search is looking for: `size` granules at an `align`-granule boundary, ending at or
// below `limit` (a pfn).
struct Request {
  uint64_t size;
  uint64_t align;
  uint64_t limit;
};

struct Fit {
  uint32_t node = kNil;
  uint64_t start = 0;
};

// A stack of uint32_t (node indices or depths). Inline for the first 128 entries (a treap of
// 2^32 nodes is almost never deeper than 100), on the heap beyond; either way one array, so
// reading an entry needs no test.
class Path {
 public:
  Path() = default;
  Path(const Path&) = delete;  // data_ may point into the object itself
  Path& operator=(const Path&) = delete;

  void clear() { size_ = 0; }
  size_t size() const { return size_; }
  void resize(size_t n) { size_ = n; }  // only ever shrinks
  void push_back(uint32_t v) {
    if (size_ == capacity_) [[unlikely]]
      grow();
    data_[size_++] = v;
  }
  uint32_t back() const { return data_[size_ - 1]; }
  uint32_t pop_back() { return data_[--size_]; }
  uint32_t operator[](size_t i) const { return data_[i]; }

 private:
  static constexpr size_t kInline = 128;
  [[gnu::noinline]] void grow() {
    std::vector<uint32_t> bigger(2 * capacity_);
    std::copy(data_, data_ + size_, bigger.begin());
    heap_ = std::move(bigger);
    data_ = heap_.data();
    capacity_ = heap_.size();
  }
  uint32_t* data_ = inline_;
  size_t size_ = 0;
  size_t capacity_ = kInline;
  uint32_t inline_[kInline];
  std::vector<uint32_t> heap_;
};

// The free extents, ordered by address, in a treap augmented with `sub`. Not thread-safe.
//
// Node 0 is a sentinel standing for "no node" (kNil): its `sub` is 0 and is never written, so
// that recomputing a node's summaries needs no test for missing children. Operations that change
// the tree near a node found by a descent reuse that descent's path (path_) instead of descending
// again: an isolated free descends once, as does an allocation that splits an extent.
class ExtentTree {
 public:
  ExtentTree() {
    chunks_.push_back(std::make_unique<Node[]>(kChunkNodes));
    first_chunk_ = chunks_[0].get();
    at(kNil) = Node{0, 0, {kNil, kNil}, 0, 0, 0, {0, 0}};
    next_ = 1;
  }

  // Adds [first, last] as a new extent. Precondition: disjoint from every extent, not touching.
  void add(uint64_t first, uint64_t last) {
    path_.clear();
    for (uint32_t t = root_; t != kNil;) {
      path_.push_back(t);
      t = at(t).pick(at(t).first <= first);
    }
    insert_on_path(new_node(first, last));
  }

  // Searches top-down for the highest fit of `q` among extents whose aligned order is at least
  // `need` (subtrees with no such extent, `sub <= need`, are skipped). False when there is none.
  // On success path_ holds the found extent's ancestors, root first, then the extent.
  //
  // The order of the search is: a node's right subtree, then the node, then its left subtree
  // (highest first), skipping what lies above the limit. Without recursion: `pending_` holds
  // the depths (in path_) of the nodes whose right subtree is being searched, so that a failed
  // right subtree resumes at the deepest of them.
  bool find(const Request& q, int need, Fit& out) {
    path_.clear();
    pending_.clear();
    uint32_t t = root_;
    bool below = false;  // every extent of t ends at or below q.limit
    for (;;) {
      while (at(t).sub > need) {  // false for the sentinel
        const Node& node = at(t);
        path_.push_back(t);
        if (!below && node.first > q.limit) {
          t = node.child[0];
          continue;
        }
        // node.first <= limit, so its left subtree lies entirely below the limit.
        if (node.child_sub[1] > need) {
          pending_.push_back(static_cast<uint32_t>(path_.size() - 1));
          t = node.child[1];
          continue;
        }
        if (fits(node, q, need, out.start)) {
          out.node = t;
          return true;
        }
        t = node.child[0];
        below = true;
      }
      if (pending_.size() == 0) return false;
      const uint32_t depth = pending_.pop_back();
      path_.resize(depth + 1);
      t = path_[depth];
      if (fits(at(t), q, need, out.start)) {
        out.node = t;
        return true;
      }
      t = at(t).child[0];
      below = true;
    }
  }

  // Removes [start, start + size - 1] from extent `n`, which must contain it. `n_on_path`:
  // path_ ends with n and holds its ancestors before it (right after find()).
  void carve(uint32_t n, uint64_t start, uint64_t size, bool n_on_path = false) {
    Node& node = at(n);
    const uint64_t first = node.first;
    const uint64_t last = node.last;
    const uint64_t end = start + size - 1;
    const bool low = start > first;
    const bool high = end < last;
    if (!low && !high) {
      if (n_on_path) {
        erase_at(path_.size() - 1);
      } else {
        erase(first);
      }
    } else if (low && !high) {
      reshape_or_at(n, first, start - 1, n_on_path);
    } else if (!low && high) {
      reshape_or_at(n, end + 1, last, n_on_path);
    } else {
      reshape_or_at(n, first, start - 1, n_on_path);
      // The new extent [end + 1, last] comes right after n: its search path is n's (reshape
      // leaves path_ holding n's ancestors, and n when n_on_path), then n's right child and
      // that child's leftmost descendants.
      if (!n_on_path) path_.push_back(n);
      for (uint32_t t = at(n).child[1]; t != kNil; t = at(t).child[0]) path_.push_back(t);
      insert_on_path(new_node(end + 1, last));
    }
  }

  // The extent containing pfn, or kNil; also the nearest extents around it.
  void neighbours(uint64_t pfn, uint32_t& pred, uint32_t& succ) {
    size_t pred_depth, succ_depth;
    neighbours(pfn, pred, succ, pred_depth, succ_depth);
  }

  // Also leaves the whole search path for pfn in path_ (down to the missing child where pfn
  // would go): pred's ancestors are path_[0 .. pred_depth-1], and likewise for succ.
  void neighbours(uint64_t pfn, uint32_t& pred, uint32_t& succ, size_t& pred_depth,
                  size_t& succ_depth) {
    uint32_t p = kNil, s = kNil;
    size_t pd = 0, sd = 0;
    path_.clear();
    uint32_t t = root_;
    while (t != kNil) {
      const Node& node = at(t);
      const bool right = node.first <= pfn;
      const size_t depth = path_.size();
      path_.push_back(t);
      p = right ? t : p;
      pd = right ? depth : pd;
      s = right ? s : t;
      sd = right ? sd : depth;
      t = node.pick(right);
    }
    pred = p;
    succ = s;
    pred_depth = pd;
    succ_depth = sd;
  }

  // Returns [first, last] to the free space, merging with touching extents. False when it
  // overlaps an extent (a double free).
  bool give_back(uint64_t first, uint64_t last) {
    uint32_t pred, succ;
    size_t pred_depth, succ_depth;
    neighbours(first, pred, succ, pred_depth, succ_depth);
    if (pred != kNil && at(pred).last >= first) return false;
    if (succ != kNil && at(succ).first <= last) return false;
    const bool merge_low = pred != kNil && at(pred).last + 1 == first;
    const bool merge_high = succ != kNil && last + 1 == at(succ).first;
    if (merge_low && merge_high) {
      const uint64_t succ_last = at(succ).last;
      erase_at(succ_depth);
      if (pred_depth < succ_depth) {
        reshape_at(pred, at(pred).first, succ_last, pred_depth);  // its ancestors are intact
      } else {
        reshape(pred, at(pred).first, succ_last);  // it was below succ: re-find it
      }
    } else if (merge_low) {
      reshape_at(pred, at(pred).first, last, pred_depth);
    } else if (merge_high) {
      reshape_at(succ, first, at(succ).last, succ_depth);
    } else {
      insert_on_path(new_node(first, last));  // path_: the search path for `first`
    }
    return true;
  }

  // Node i. The first chunk (which holds every node of a tree that never had more than 4095
  // extents) is reached without loading its address from chunks_: in a descent that load
  // would sit between one node and the next.
  const Node& at(uint32_t i) const {
    if (i < kChunkNodes) [[likely]]
      return first_chunk_[i];
    return chunks_[i >> kChunkShift][i & (kChunkNodes - 1)];
  }
  Node& at(uint32_t i) { return const_cast<Node&>(std::as_const(*this).at(i)); }

  // Calls f(node) for every extent in address order.
  template <class F>
  void for_each(F&& f) const {
    walk(root_, f);
  }

  // The root (kNil when empty), for walks that check the invariants.
  uint32_t root() const { return root_; }
  uint64_t count() const { return count_; }
  uint64_t storage_bytes() const { return uint64_t{chunks_.size()} * kChunkNodes * sizeof(Node); }

 private:
  template <class F>
  void walk(uint32_t t, F& f) const {
    while (t != kNil) {
      walk(at(t).child[0], f);
      f(at(t));
      t = at(t).child[1];
    }
  }

  // Whether extent `node` (whose first is at or below q.limit) holds the request among
  // extents of order `need` or more; sets start to the highest fitting start.
  static bool fits(const Node& node, const Request& q, int need, uint64_t& start) {
    if (node.order < need) return false;
    const uint64_t high = std::min(node.last, q.limit);
    if (high - node.first + 1 < q.size) return false;  // high >= node.first here
    const uint64_t s = (high - q.size + 1) & ~(q.align - 1);
    if (s < node.first) return false;
    start = s;
    return true;
  }

  // Recomputes t's summaries from its own order and its children's; true when `sub` changed.
  // The sentinel's `sub` is 0, so missing children need no test.
  bool pull(uint32_t t) {
    Node& node = at(t);
    const uint8_t left = at(node.child[0]).sub;
    const uint8_t right = at(node.child[1]).sub;
    node.child_sub[0] = left;
    node.child_sub[1] = right;
    const uint8_t sub_now = std::max({static_cast<uint8_t>(node.order + 1), left, right});
    const bool changed = sub_now != node.sub;
    node.sub = sub_now;
    return changed;
  }

  // Gives extent n new bounds that keep its place in the order (no other extent between the
  // old and the new key), then repairs `sub` upwards from it, stopping where nothing changes.
  // Leaves n's ancestors in path_.
  void reshape(uint32_t n, uint64_t first, uint64_t last) {
    const uint64_t key = first;
    path_.clear();
    for (uint32_t t = root_; t != n;) {
      path_.push_back(t);
      t = at(t).pick(at(t).first <= key);
    }
    reshape_at(n, first, last, path_.size());
  }

  void reshape_or_at(uint32_t n, uint64_t first, uint64_t last, bool n_on_path) {
    if (n_on_path) {
      reshape_at(n, first, last, path_.size() - 1);
    } else {
      reshape(n, first, last);
    }
  }

  // reshape() when path_[0 .. depth-1] already holds n's ancestors, root first.
  void reshape_at(uint32_t n, uint64_t first, uint64_t last, size_t depth) {
    Node& node = at(n);
    node.first = first;
    node.last = last;
    node.order = aligned_order(first, last);
    if (!pull(n)) return;
    for (size_t i = depth; i-- > 0;) {
      if (!pull(path_[i])) return;
    }
  }

  uint32_t new_node(uint64_t first, uint64_t last) {
    uint32_t i;
    if (free_list_ != kNil) {
      i = free_list_;
      free_list_ = at(i).child[0];
    } else {
      if (next_ == uint64_t{chunks_.size()} * kChunkNodes) {
        chunks_.push_back(std::make_unique<Node[]>(kChunkNodes));
      }
      i = next_++;
    }
    Node& node = at(i);
    node = Node{first, last, {kNil, kNil}, priority(i), aligned_order(first, last), 0, {0, 0}};
    node.sub = static_cast<uint8_t>(node.order + 1);
    ++count_;
    return i;
  }

  void release(uint32_t i) {
    at(i).child[0] = free_list_;
    free_list_ = i;
    --count_;
  }

  // Links new node n into the treap. Precondition: path_ holds the whole search path for n's
  // key, root first, down to the node whose missing child is where the key belongs (empty for
  // an empty tree). The nodes of the path with a priority at least n's stay above it (each
  // gets n in its subtree on the key's side, so its summaries only grow); the rest of the path is
  // the subtree n takes the place of, split around n's key: the split follows the same path, so it
  // needs no comparisons of its own beyond one per node.
  void insert_on_path(uint32_t n) {
    Node& node = at(n);
    const uint64_t key = node.first;
    const uint32_t prio = node.prio;
    const uint8_t sub = node.sub;
    const size_t len = path_.size();
    size_t i = 0;
    for (; i < len; ++i) {
      Node& t = at(path_[i]);
      if (t.prio < prio) break;
      t.sub = std::max(t.sub, sub);
      uint8_t& side = t.child_sub[t.first <= key];
      side = std::max(side, sub);
    }
    uint32_t* link = &root_;
    if (i > 0) {
      Node& parent = at(path_[i - 1]);
      link = &parent.child[parent.first <= key];
    }
    uint32_t* slot[2] = {&node.child[0], &node.child[1]};  // where the next left/right part goes
    for (size_t j = i; j < len; ++j) {
      const uint32_t u = path_[j];
      Node& un = at(u);
      const bool low = un.first < key;  // u goes to n's left part, continuing to its right
      *slot[!low] = u;
      slot[!low] = &un.child[low];
    }
    *slot[0] = kNil;
    *slot[1] = kNil;
    for (size_t j = len; j-- > i;) pull(path_[j]);
    pull(n);
    *link = n;
  }

  // Removes the extent starting at key.
  void erase(uint64_t key) {
    path_.clear();
    uint32_t t = root_;
    while (at(t).first != key) {
      path_.push_back(t);
      t = at(t).pick(at(t).first <= key);
    }
    path_.push_back(t);
    erase_at(path_.size() - 1);
  }

  // Removes path_[depth], whose ancestors are path_[0 .. depth-1], repairing `sub` upwards
  // and stopping where nothing changes. Its two subtrees are merged along the right spine of
  // the left one and the left spine of the right one, by priority.
  void erase_at(size_t depth) {
    const uint32_t t = path_[depth];
    uint32_t a = at(t).child[0];
    uint32_t b = at(t).child[1];
    uint32_t joined = kNil;
    uint32_t* slot = &joined;
    pending_.clear();
    while (a != kNil && b != kNil) {
      if (at(a).prio > at(b).prio) {
        *slot = a;
        pending_.push_back(a);
        slot = &at(a).child[1];
        a = *slot;
      } else {
        *slot = b;
        pending_.push_back(b);
        slot = &at(b).child[0];
        b = *slot;
      }
    }
    *slot = a != kNil ? a : b;
    for (size_t i = pending_.size(); i-- > 0;) pull(pending_[i]);
    if (depth == 0) {
      root_ = joined;
    } else {
      Node& parent = at(path_[depth - 1]);
      parent.child[parent.child[1] == t] = joined;
    }
    release(t);
    for (size_t i = depth; i-- > 0;) {
      if (!pull(path_[i])) break;
    }
  }

  std::vector<std::unique_ptr<Node[]>> chunks_;
  Node* first_chunk_;  // chunks_[0]
  uint32_t root_ = kNil;
  uint32_t free_list_ = kNil;
  uint32_t next_ = 0;
  uint64_t count_ = 0;
  Path path_;     // the last search path, root first
  Path pending_;  // find(): depths in path_ to resume at; erase_at(): the merged nodes
};

}  // namespace iovamap::extents
