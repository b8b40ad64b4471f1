/* loop_text.h — shared by loop_print.c and loop_parse.c (and any tool that
 * wants the loop IR's spellings): op names of the text form and the words a
 * bare variable name must not be spelled as. One table, in loop_print.c. */
#ifndef NNL_LOOP_TEXT_H
#define NNL_LOOP_TEXT_H

/* "add" for LO_ADD; NULL if op is out of range. */
const char *loop_bin_name(int op);
/* "neg" for LU_NEG; NULL if op is out of range. */
const char *loop_un_name(int op);
/* A word that starts an expression (load, cast, cast_sat, select, inf, nan,
 * op names): a variable so named is printed quoted. */
int loop_is_reserved(const char *s);

#endif
