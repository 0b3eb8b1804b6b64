// The field is private: a bare integer cannot become a UserId without going through `parse`.
use domain::UserId;

fn main() {
    let _forged = UserId(987_654_321);
}
