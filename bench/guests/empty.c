/* Does nothing: measures a machine's start-up and exit cost, which the other benchmarks' times are corrected by. */
int main(void) { return 0; }
