#include <iostream>

#include "textkit/words.hpp"

int main()
{
    auto counts = textkit::count_words("The cat and the hat. THE END");
    std::cout << "the=" << counts["the"] << " cat=" << counts["cat"] << "\n";
    return counts["the"] == 3 ? 0 : 1;
}
