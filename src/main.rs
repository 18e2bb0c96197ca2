fn main() {
    std::process::exit(creatify_batch::cli::main());
}
