// The free space of a container, searchable by position and size (free_extents.h).
#include "free_extents.h"

#include <algorithm>

namespace iovamap {

void FreeExtents::pull(int t) {
  Node& n = nodes_[t];
  n.largest = std::max({n.range.size(), largest(n.left), largest(n.right)});
}

void FreeExtents::split(int t, uint64_t key, int* below, int* rest) {
  if (t < 0) {
    *below = *rest = -1;
    return;
  }
  if (nodes_[t].range.first < key) {
    int right_below = -1;
    split(nodes_[t].right, key, &right_below, rest);
    nodes_[t].right = right_below;
    pull(t);
    *below = t;
  } else {
    int left_rest = -1;
    split(nodes_[t].left, key, below, &left_rest);
    nodes_[t].left = left_rest;
    pull(t);
    *rest = t;
  }
}

int FreeExtents::merge(int a, int b) {
  if (a < 0) return b;
  if (b < 0) return a;
  if (nodes_[a].priority > nodes_[b].priority) {
    nodes_[a].right = merge(nodes_[a].right, b);
    pull(a);
    return a;
  }
  nodes_[b].left = merge(a, nodes_[b].left);
  pull(b);
  return b;
}

void FreeExtents::insert(const Range& r) {
  int t;
  if (!unused_.empty()) {
    t = unused_.back();
    unused_.pop_back();
    nodes_[t] = Node{};
  } else {
    t = static_cast<int>(nodes_.size());
    nodes_.emplace_back();
  }
  // A fixed hash of the count: priorities look random, and every run is the same.
  uint32_t h = ++inserted_ * 0x9e3779b9u;
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  nodes_[t].range = r;
  nodes_[t].priority = h;
  pull(t);
  int below = -1, rest = -1;
  split(root_, r.first, &below, &rest);
  root_ = merge(merge(below, t), rest);
  ++count_;
}

void FreeExtents::erase(uint64_t first) {
  int below = -1, rest = -1, hit = -1, above = -1;
  split(root_, first, &below, &rest);
  if (first == kMaxAddress) {
    hit = rest;
  } else {
    split(rest, first + 1, &hit, &above);
  }
  if (hit >= 0) {  // at most one extent starts at `first`
    unused_.push_back(hit);
    --count_;
  }
  root_ = merge(below, above);
}

std::optional<Range> FreeExtents::holding(uint64_t x) const {
  std::optional<Range> best;  // the extent with the greatest start at or below x
  for (int t = root_; t >= 0;) {
    if (nodes_[t].range.first <= x) {
      best = nodes_[t].range;
      t = nodes_[t].right;
    } else {
      t = nodes_[t].left;
    }
  }
  if (best && best->contains(x)) return best;
  return std::nullopt;
}

std::optional<Range> FreeExtents::lowest_fit(int t, u128 size) const {
  while (t >= 0 && largest(t) >= size) {
    if (largest(nodes_[t].left) >= size) {
      t = nodes_[t].left;
    } else if (nodes_[t].range.size() >= size) {
      return nodes_[t].range;
    } else {
      t = nodes_[t].right;
    }
  }
  return std::nullopt;
}

std::optional<Range> FreeExtents::highest_fit(int t, u128 size) const {
  while (t >= 0 && largest(t) >= size) {
    if (largest(nodes_[t].right) >= size) {
      t = nodes_[t].right;
    } else if (nodes_[t].range.size() >= size) {
      return nodes_[t].range;
    } else {
      t = nodes_[t].left;
    }
  }
  return std::nullopt;
}

std::optional<Range> FreeExtents::next_fit(uint64_t x, u128 size) const {
  // Down the path to x: every node at or above x, with its right subtree, is a candidate, and
  // the lowest of them that fits lies in the first such subtree (in order) that has room.
  std::optional<Range> best;
  for (int t = root_; t >= 0;) {
    const Node& n = nodes_[t];
    if (n.range.first >= x) {
      // n and its right subtree are above x, and lower than anything found so far.
      if (n.range.size() >= size) {
        best = n.range;
      } else if (std::optional<Range> r = lowest_fit(n.right, size)) {
        best = r;
      }
      t = n.left;
    } else {
      t = n.right;
    }
  }
  return best;
}

std::optional<Range> FreeExtents::prev_fit(uint64_t x, u128 size) const {
  std::optional<Range> best;
  for (int t = root_; t >= 0;) {
    const Node& n = nodes_[t];
    if (n.range.first < x) {
      // n and its left subtree are below x, and higher than anything found so far.
      if (n.range.size() >= size) {
        best = n.range;
      } else if (std::optional<Range> r = highest_fit(n.left, size)) {
        best = r;
      }
      t = n.right;
    } else {
      t = n.left;
    }
  }
  return best;
}

}  // namespace iovamap
