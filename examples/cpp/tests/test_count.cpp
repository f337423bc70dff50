// Word counts of textkit.
#include <iostream>

#include "textkit/words.hpp"

int main()
{
    auto c = textkit::count_words("a b A, b; c");
    if (c["a"] != 2 || c["b"] != 2 || c["c"] != 1 || c.size() != 3) {
        std::cout << "count_words: a=" << c["a"] << " b=" << c["b"] << " c=" << c["c"] << "\n";
        return 1;
    }
    return 0;
}
