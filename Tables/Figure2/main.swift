// Figure 2 (MLM) and, from the same run, Figure 4 (NSP) and Table A5 (the sizes).
import SparseMixersTables

TableMain.run(.figure2)
