// Overloaded: a visitor built from lambdas, for std::visit over a variant.
#ifndef CONVGEN_CORE_OVERLOADED_H_
#define CONVGEN_CORE_OVERLOADED_H_

namespace convgen {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

}  // namespace convgen

#endif  // CONVGEN_CORE_OVERLOADED_H_
