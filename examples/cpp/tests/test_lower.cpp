// Case folding of textkit.
#include <iostream>

#include "textkit/words.hpp"

int main()
{
    if (textkit::to_lower("MiXeD 42") != "mixed 42") {
        std::cout << "to_lower: got \"" << textkit::to_lower("MiXeD 42") << "\"\n";
        return 1;
    }
    return 0;
}
