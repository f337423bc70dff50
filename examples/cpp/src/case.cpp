#include "textkit/words.hpp"

#include <algorithm>
#include <cctype>

namespace textkit {

std::string to_lower(std::string s)
{
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

}  // namespace textkit
